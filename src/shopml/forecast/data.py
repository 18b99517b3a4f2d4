"""From the workspace to the forecasters' long frame (``unique_id, ds, y`` + exogenous columns).

Demand is read from ``orders`` (units of completed order lines per item and period; cancelled
and returned lines are excluded) or, for shops that export aggregates only, from ``sales``
(with its ``attributes`` JSON as exogenous regressors: holiday flags, temperature, promotions,
competitor prices). Periods are weeks starting on Monday (``W``) or months (``M``); a partial
first or last period (the data starts mid-week, or stops before the week ends) is dropped, since
a half week of units would read as a collapse in demand.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.forecast.base import normalize_freq

if TYPE_CHECKING:
    from shopml.data.workspace import Workspace

__all__ = ["categories", "demand_frame", "regularize", "top_series"]

_TRUNC = {"W-MON": "week", "MS": "month", "D": "day"}


def _period_end(start: pd.Timestamp, freq: str) -> pd.Timestamp:
    """The last day of the period starting at ``start``."""
    return start + pd.tseries.frequencies.to_offset(freq) - pd.Timedelta(days=1)


def demand_frame(
    ws: Workspace,
    freq: str = "W",
    source: Literal["auto", "orders", "sales"] = "auto",
    exog: tuple[str, ...] | Literal["all"] = (),
    drop_partial: bool = True,
) -> pd.DataFrame:
    """Units per item and period from the workspace, regular (gaps filled with zero).

    ``source='auto'`` takes ``orders`` when it has completed lines with an item, else ``sales``.
    ``exog``: columns to add: ``price`` (mean unit price of the period's units; carried forward
    through periods without sales) and, from ``sales``, keys of ``attributes`` (``'all'`` takes
    every numeric key). Raises :class:`DataError` when neither table has demand.
    """
    f = normalize_freq(freq)
    unit = _TRUNC[f]
    if source == "auto":
        n = ws.sql(
            "SELECT count(*) AS n FROM orders WHERE status = 'completed' AND item_id IS NOT NULL"
        )["n"].iloc[0]
        source = "orders" if n > 0 else "sales"
    if source == "orders":
        raw = ws.sql(
            f"SELECT item_id AS unique_id, date_trunc('{unit}', ts) AS ds, sum(quantity) AS y, "
            "sum(quantity * unit_price) / nullif(sum(quantity), 0) AS price, "
            "min(ts) AS first_ts, max(ts) AS last_ts "
            "FROM orders WHERE status = 'completed' AND item_id IS NOT NULL AND quantity > 0 "
            "GROUP BY 1, 2"
        )
        extend = True
    elif source == "sales":
        raw = ws.sql(
            f"SELECT item_id AS unique_id, date_trunc('{unit}', date) AS ds, date AS day, "
            "quantity AS y, revenue, attributes FROM sales WHERE quantity IS NOT NULL"
        )
        extend = False
    else:
        raise ValidationError(f"source must be 'auto', 'orders' or 'sales', got {source!r}")
    if raw.empty:
        raise DataError(
            f"the workspace's {source} table has no demand (units per item) to forecast"
        )
    raw["ds"] = pd.to_datetime(raw["ds"])
    if getattr(raw["ds"].dt, "tz", None) is not None:
        raw["ds"] = raw["ds"].dt.tz_convert(None)
    if source == "sales":
        raw = _aggregate_sales(raw, exog)
    first_ds, last_ds = raw["ds"].min(), raw["ds"].max()
    if drop_partial and source == "orders" and f != "D":
        data_start = pd.to_datetime(raw["first_ts"].min())
        data_end = pd.to_datetime(raw["last_ts"].max())
        data_start = data_start.tz_convert(None) if data_start.tzinfo else data_start
        data_end = data_end.tz_convert(None) if data_end.tzinfo else data_end
        if data_end.normalize() < _period_end(last_ds, f):
            raw = raw[raw["ds"] < last_ds]
        if data_start.normalize() > first_ds:
            raw = raw[raw["ds"] > first_ds]
    cols = ["unique_id", "ds", "y"]
    keep: list[str] = []
    if source == "orders" and (exog == "all" or "price" in exog):
        keep = ["price"]
    elif source == "sales":
        keep = [c for c in raw.columns if c not in ("unique_id", "ds", "y")]
    frame = raw[cols + keep].copy()
    frame["unique_id"] = frame["unique_id"].astype(str)
    if frame.empty:
        raise DataError("no complete period of demand is left after dropping partial periods")
    return regularize(frame, freq, extend_to_end=extend)


def _aggregate_sales(raw: pd.DataFrame, exog: tuple[str, ...] | str) -> pd.DataFrame:
    """Sum sales rows into periods; numeric ``attributes`` keys averaged per period."""
    attrs = raw["attributes"].map(lambda s: json.loads(s) if isinstance(s, str) and s else {})
    wide = pd.DataFrame.from_records(attrs.tolist(), index=raw.index)
    wide = wide.apply(pd.to_numeric, errors="coerce")
    wide = wide.loc[:, wide.notna().any()]
    if exog != "all":
        wide = wide[[c for c in exog if c in wide.columns]]
        missing = [c for c in exog if c not in wide.columns and c != "price"]
        if missing:
            raise DataError(f"sales.attributes has no key(s) {missing}")
    base = raw[["unique_id", "ds", "y"]].join(wide)
    agg = {"y": "sum", **{c: "mean" for c in wide.columns}}
    out = base.groupby(["unique_id", "ds"], as_index=False).agg(agg)
    if exog == "all" or "price" in exog:
        rev = raw.groupby(["unique_id", "ds"])[["revenue", "y"]].sum()
        price = (rev["revenue"] / rev["y"].where(rev["y"] > 0)).rename("price").reset_index()
        if "price" not in out:
            out = out.merge(price, on=["unique_id", "ds"], how="left")
    return out


def regularize(df: pd.DataFrame, freq: str = "W", extend_to_end: bool = True) -> pd.DataFrame:
    """Every period from each series' first to its last (or the data's last, with
    ``extend_to_end``) present: missing ``y`` is 0 (no units sold), exogenous values are
    carried forward (then backward)."""
    f = normalize_freq(freq)
    df = df.copy()
    df["ds"] = pd.to_datetime(df["ds"])
    end = df["ds"].max()
    span = df.groupby("unique_id")["ds"].agg(["min", "max"])
    if extend_to_end:
        span["max"] = end
    grid = pd.date_range(df["ds"].min(), end, freq=f)
    lo = grid.get_indexer(span["min"])
    hi = grid.get_indexer(span["max"])
    if (lo < 0).any() or (hi < 0).any():
        raise ValidationError(
            f"ds values are not on the {freq} grid; truncate them to periods first"
        )
    n = hi - lo + 1
    ids = np.repeat(span.index.to_numpy(), n)
    offs = np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    full = pd.DataFrame({"unique_id": ids, "ds": grid[np.repeat(lo, n) + offs]})
    out = full.merge(df, on=["unique_id", "ds"], how="left")
    out["y"] = out["y"].fillna(0.0).astype(float)
    exog = [c for c in out.columns if c not in ("unique_id", "ds", "y")]
    if exog:
        out[exog] = out.groupby("unique_id")[exog].ffill()
        out[exog] = out.groupby("unique_id")[exog].bfill()
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def top_series(df: pd.DataFrame, n: int, until: pd.Timestamp | None = None) -> list[str]:
    """The ``n`` series with the most units (in periods up to ``until`` when given)."""
    part = df if until is None else df[df["ds"] <= until]
    tot = part.groupby("unique_id")["y"].sum().sort_values(ascending=False, kind="stable")
    return tot.index[:n].tolist()


def categories(ws: Workspace) -> dict[str, str]:
    """``item_id -> category`` for items that have one (empty when the catalogue has none)."""
    try:
        m = ws.sql("SELECT item_id, category FROM items WHERE category IS NOT NULL")
    except Exception:  # noqa: BLE001 - a workspace without items: no hierarchy
        return {}
    return dict(zip(m["item_id"].astype(str), m["category"].astype(str), strict=True))
