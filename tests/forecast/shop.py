"""A tiny shop on disk for the forecast tests: daily orders of a few items over 20 weeks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopml.data.workspace import Workspace


def tiny_orders(weeks: int = 20, seed: int = 0) -> pd.DataFrame:
    """Completed lines of 5 items (two categories), plus cancelled and returned lines that must
    not count; the data starts on a Wednesday and stops on a Thursday (partial weeks)."""
    rng = np.random.default_rng(seed)
    days = pd.date_range("2024-01-03", periods=weeks * 7, freq="D")  # a Wednesday
    rows = []
    for i, rate in enumerate([30, 12, 5, 2, 0.4]):
        q = rng.poisson(rate / 7 * 4, size=len(days))
        for d, n in zip(days, q, strict=True):
            if n:
                rows.append(
                    (
                        f"o{i}-{d.date()}",
                        d + pd.Timedelta(hours=10),
                        f"item{i}",
                        float(n),
                        2.0 + i,
                        "completed",
                    )
                )
    rows.append(("c1", days[10] + pd.Timedelta(hours=11), "item0", 500.0, 2.0, "cancelled"))
    rows.append(("r1", days[11] + pd.Timedelta(hours=11), "item0", 300.0, 2.0, "returned"))
    df = pd.DataFrame(
        rows, columns=["order_id", "ts", "item_id", "quantity", "unit_price", "status"]
    )
    df["line"] = 1
    df["user_id"] = "u1"
    df["ts"] = df["ts"].dt.tz_localize("UTC")
    return df


def tiny_workspace(path) -> str:
    ws = Workspace(str(path))
    ws.append("orders", tiny_orders())
    items = pd.DataFrame(
        {
            "item_id": [f"item{i}" for i in range(5)],
            "category": ["mugs", "mugs", "cards", "cards", "cards"],
        }
    )
    ws.append("items", items)
    ws.close()
    return str(path)
