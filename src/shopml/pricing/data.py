"""The demand panel pricing models learn from: units and price per product and period.

The panel follows statsforecast's long convention (the interface shared with
:mod:`shopml.forecast`): ``unique_id`` (the product), ``ds`` (period start), ``y`` (units sold),
plus ``price`` (what a unit cost in that period) and optional ``category``, ``promo`` (share of
the period on promotion, 0..1) and ``cost`` (unit cost). Other numeric columns are exogenous
controls. :func:`panel_from_workspace` builds it from any shop's ``orders`` (or ``sales``) and
``prices`` tables.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError

if TYPE_CHECKING:
    from shopml.data.workspace import Workspace

REQUIRED = ("unique_id", "ds", "y", "price")
FREQS = {"D": "D", "W": "W-MON", "M": "MS"}


def validate_panel(panel: pd.DataFrame, name: str = "panel") -> pd.DataFrame:
    """A clean copy of ``panel`` sorted by product and period; raises naming the bad column."""
    if not isinstance(panel, pd.DataFrame):
        raise ValidationError(f"{name}: expected a pandas DataFrame, got {type(panel).__name__}")
    missing = [c for c in REQUIRED if c not in panel.columns]
    if missing:
        raise ValidationError(f"{name}: missing column(s) {missing}; needs {list(REQUIRED)}")
    if panel.empty:
        raise ValidationError(f"{name}: no rows")
    out = panel.copy()
    out["unique_id"] = out["unique_id"].astype(str)
    try:
        out["ds"] = pd.to_datetime(out["ds"])
    except (ValueError, TypeError) as exc:
        raise ValidationError(f"{name}.ds: not dates ({exc})") from None
    for col in ("y", "price"):
        vals = pd.to_numeric(out[col], errors="coerce")
        if vals.isna().any() or not np.isfinite(vals.to_numpy(dtype=float)).all():
            raise ValidationError(f"{name}.{col}: expected finite numbers, found missing or text")
        out[col] = vals.astype(float)
    if (out["y"] < 0).any():
        raise ValidationError(f"{name}.y: units sold must be >= 0")
    if (out["price"] <= 0).any():
        raise ValidationError(f"{name}.price: prices must be > 0")
    if "category" not in out.columns:
        out["category"] = "all"
    out["category"] = out["category"].fillna("unknown").astype(str)
    if "promo" in out.columns:
        out["promo"] = pd.to_numeric(out["promo"], errors="coerce").fillna(0.0).clip(0, 1)
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def infer_freq(ds: pd.Series) -> str:
    """``"D"``, ``"W"`` or ``"M"`` from the typical gap between consecutive periods."""
    days = np.diff(np.sort(pd.Series(ds.unique()).to_numpy()).astype("datetime64[D]").astype(int))
    if days.size == 0:
        return "D"
    gap = float(np.median(days))
    return "D" if gap <= 1.5 else "W" if gap <= 10 else "M"


def calendar_features(ds: pd.Series, freq: str) -> pd.DataFrame:
    """Numeric calendar features of each period (for the nuisance models)."""
    ds = pd.to_datetime(ds)
    out = pd.DataFrame(
        {
            "doy": ds.dt.dayofyear.to_numpy(),
            "month": ds.dt.month.to_numpy(),
            "t": ((ds - ds.min()).dt.days).to_numpy(),
        }
    )
    if freq == "D":
        out["dow"] = ds.dt.dayofweek.to_numpy()
    return out


def calendar_dummies(ds: pd.Series, freq: str) -> np.ndarray:
    """One-hot month (and weekday, for daily data) columns, first level dropped."""
    ds = pd.to_datetime(ds)
    parts = [pd.get_dummies(ds.dt.month, prefix="m", drop_first=True)]
    if freq == "D":
        parts.append(pd.get_dummies(ds.dt.dayofweek, prefix="dow", drop_first=True))
    return pd.concat(parts, axis=1).to_numpy(dtype=float)


def panel_from_workspace(ws: Workspace, freq: str = "D") -> pd.DataFrame:
    """Units and price per product and period from a workspace.

    Units come from ``orders`` (every line not cancelled: a later return was still a sale at
    that price) or, when there are no orders, from ``sales``. The price of a period is the
    mean of ``prices`` over its days where the shop keeps a price history (so periods without a
    sale keep their price and enter with ``y = 0``); otherwise the mean unit price paid, and
    only periods with sales exist. ``category`` comes from ``items``, ``promo`` from the
    ``promo`` flag in ``prices.attributes`` where present, ``cost`` from ``items.attributes``.
    """
    if freq not in FREQS:
        raise ValidationError(f"freq={freq!r}: expected one of {sorted(FREQS)}")
    unit = {"D": "day", "W": "week", "M": "month"}[freq]
    n_orders, n_sales = ws.count("orders"), ws.count("sales")
    if n_orders:
        sold = ws.sql(
            f"SELECT item_id AS unique_id, date_trunc('{unit}', ts)::DATE AS ds, "
            "SUM(quantity)::DOUBLE AS y, SUM(quantity * unit_price) / SUM(quantity) AS paid "
            "FROM orders WHERE status <> 'cancelled' AND quantity > 0 AND unit_price > 0 "
            "GROUP BY 1, 2"
        )
    elif n_sales:
        sold = ws.sql(
            f"SELECT item_id AS unique_id, date_trunc('{unit}', date)::DATE AS ds, "
            "SUM(quantity)::DOUBLE AS y, "
            "SUM(revenue) / NULLIF(SUM(quantity), 0) AS paid "
            "FROM sales WHERE quantity >= 0 GROUP BY 1, 2"
        )
    else:
        raise DataError("the workspace has neither orders nor sales: no demand to learn from")
    price = pd.DataFrame()
    if ws.count("prices"):
        price = ws.sql(
            f"SELECT item_id AS unique_id, date_trunc('{unit}', date)::DATE AS ds, "
            "AVG(price) AS price, "
            "AVG(CASE WHEN json_extract(attributes, '$.promo')::BOOLEAN THEN 1.0 ELSE 0.0 END) "
            "AS promo FROM prices WHERE price > 0 GROUP BY 1, 2"
        )
    if len(price):
        panel = price.merge(sold, on=["unique_id", "ds"], how="left")
        panel["y"] = panel["y"].fillna(0.0)
        # only the span where the product was on sale: from its first to its last sale
        span = sold.groupby("unique_id")["ds"].agg(["min", "max"])
        panel = panel.join(span, on="unique_id", how="inner")
        panel = panel[(panel["ds"] >= panel["min"]) & (panel["ds"] <= panel["max"])]
        panel = panel.drop(columns=["min", "max", "paid"])
    else:
        panel = sold.rename(columns={"paid": "price"})
        panel = panel[panel["price"].notna() & (panel["price"] > 0)]
    items = ws.sql(
        "SELECT item_id AS unique_id, category, "
        "TRY_CAST(json_extract(attributes, '$.cost') AS DOUBLE) AS cost FROM items"
    ) if ws.count("items") else pd.DataFrame(columns=["unique_id", "category", "cost"])
    panel = panel.merge(items, on="unique_id", how="left")
    if panel.empty:
        raise DataError("no product has both units sold and a price")
    return validate_panel(panel, "workspace panel")
