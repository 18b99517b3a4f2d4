"""Bottom-up hierarchy: item -> category -> total, with coherent (reconciled) forecasts.

The item forecasts are the base; a category's and the total's forecasts are sums of their items'
(so the levels add up by construction: bottom-up reconciliation). Point forecasts add exactly.
Quantiles of a sum are not sums of quantiles: each aggregate's quantile is its summed median plus
the root of the summed squared distances of the items' quantiles from their medians (items taken
as independent; the distance keeps each side's skew). Series ids of the aggregates are
``category/<name>`` and ``total``.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.forecast.base import QUANTILES, qcol

__all__ = ["aggregate_actuals", "bottom_up", "hierarchy_levels"]


def hierarchy_levels(ids: np.ndarray | list[str], categories: Mapping[str, str]) -> pd.DataFrame:
    """``unique_id, category`` (``(none)`` for items without one)."""
    ids = np.asarray(ids, dtype=str)
    cat = np.array([categories.get(i, "(none)") for i in ids], dtype=str)
    return pd.DataFrame({"unique_id": ids, "category": cat})


def _groups(frame: pd.DataFrame, categories: Mapping[str, str]) -> pd.DataFrame:
    if not categories:
        raise ValidationError("bottom-up needs item categories; the catalogue has none")
    lv = hierarchy_levels(frame["unique_id"].unique(), categories)
    out = frame.merge(lv, on="unique_id", how="left")
    return out


def bottom_up(forecast: pd.DataFrame, categories: Mapping[str, str]) -> pd.DataFrame:
    """Category and total forecasts from item forecasts (long contract frame; ``cutoff`` kept
    when present). Returns only the aggregate rows (``level`` = ``category`` or ``total``)."""
    need = ["unique_id", "ds", "point", *[qcol(t) for t in QUANTILES]]
    missing = [c for c in need if c not in forecast.columns]
    if missing:
        raise ValidationError(f"forecast lacks {missing}")
    f = _groups(forecast, categories)
    keys = ["ds"] + (["cutoff"] if "cutoff" in f.columns else [])
    qs = [qcol(t) for t in QUANTILES]
    med = f[qcol(0.5)].to_numpy()
    dev = f[qs].to_numpy() - med[:, None]
    signed = pd.DataFrame(np.sign(dev) * dev**2, columns=qs, index=f.index)
    work = pd.concat(
        [f[[*keys, "category", "point", qcol(0.5)]].rename(columns={qcol(0.5): "_med"}), signed],
        axis=1,
    )
    if "y" in f.columns:
        work["y"] = f["y"]
    parts = []
    for level, by in (("category", [*keys, "category"]), ("total", keys)):
        g = (
            work.drop(columns=[] if level == "category" else ["category"])
            .groupby(by, as_index=False)
            .sum()
        )
        for c in qs:
            g[c] = g["_med"] + np.sign(g[c]) * np.sqrt(np.abs(g[c]))
        g[qs] = np.sort(np.clip(g[qs].to_numpy(), 0, None), axis=1)
        g["unique_id"] = "category/" + g["category"] if level == "category" else "total"
        g["level"] = level
        parts.append(g.drop(columns=["_med"] + (["category"] if level == "category" else [])))
    return pd.concat(parts, ignore_index=True)


def aggregate_actuals(df: pd.DataFrame, categories: Mapping[str, str]) -> pd.DataFrame:
    """The history ``unique_id, ds, y`` at the category and total levels."""
    f = _groups(df[["unique_id", "ds", "y"]], categories)
    cat = f.groupby(["category", "ds"], as_index=False)["y"].sum()
    cat["unique_id"] = "category/" + cat["category"]
    tot = f.groupby("ds", as_index=False)["y"].sum().assign(unique_id="total")
    return pd.concat(
        [cat[["unique_id", "ds", "y"]], tot[["unique_id", "ds", "y"]]], ignore_index=True
    )
