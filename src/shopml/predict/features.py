"""Feature builders with an explicit cutoff: nothing after the cutoff reaches a feature.

- :func:`purchase_features`: RFM and inter-purchase times (:func:`shopml.predict.rfm.rfm_features`)
  plus purchase days and spend in trailing windows, per customer, from orders up to ``cutoff``;
- :func:`category_mix`: each customer's share of spend per category (the most common ones);
- :func:`session_features`: per session from its first ``first_n`` events up to ``cutoff``:
  length, duration, dwell between events, distinct items, views, carts, searches;
- :func:`entity_sharing`: per row, as of that row's time, how many earlier rows and distinct
  accounts share an entity (a device, an IP, a card) — the classic fraud signal;
- :func:`purchase_label`: did the customer buy in ``(cutoff, cutoff + horizon]`` (the target,
  the only function here that looks past the cutoff).

Cutoffs are inclusive: an event at exactly ``cutoff`` is history. Times may be timezone-aware
(compared in UTC) or naive (taken as UTC).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.predict.rfm import _day, rfm_features


def _naive_utc(s: pd.Series, name: str) -> pd.Series:
    try:
        ts = pd.to_datetime(s)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must hold timestamps: {exc}") from None
    if ts.isna().any():
        raise ValidationError(f"{int(ts.isna().sum())} row(s) have no {name}")
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    return ts


def _instant(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a time, got {value!r}: {exc}") from None
    if ts is pd.NaT:
        raise ValidationError(f"{name} must be a time, got {value!r}")
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


def _need(frame: pd.DataFrame, cols: Sequence[str], name: str) -> None:
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError(f"{name} must be a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in cols if c not in frame.columns]
    if missing:
        raise ValidationError(f"{name} lacks column(s) {missing}; columns are {list(frame.columns)}")


def purchase_features(
    orders: pd.DataFrame,
    cutoff: Any,
    *,
    customer_col: str = "user_id",
    time_col: str = "ts",
    value_col: str = "value",
    windows: Sequence[int] = (30, 90, 180),
) -> pd.DataFrame:
    """Per customer with an order on or before ``cutoff`` (a day, inclusive): the
    :func:`~shopml.predict.rfm.rfm_features` columns in days, plus ``days_{w}`` (distinct purchase
    days) and ``spend_{w}`` in the last ``w`` days up to the cutoff, and ``spend_trend``
    (spend in the last 90 days over the mean 90 days before; NaN when undefined)."""
    _need(orders, [customer_col, time_col, value_col], "orders")
    cut = _day(cutoff, "cutoff")
    feats = rfm_features(orders, cut, customer_col=customer_col, time_col=time_col, value_col=value_col, freq="D")
    ts = _naive_utc(orders[time_col], time_col).dt.floor("D")
    keep = (ts <= cut).to_numpy()
    hist = pd.DataFrame(
        {
            "customer": orders[customer_col].to_numpy()[keep],
            "day": ts.to_numpy()[keep],
            "value": pd.to_numeric(orders[value_col], errors="coerce").to_numpy(dtype=np.float64)[keep],
        }
    )
    age = (cut - hist["day"]).dt.days.to_numpy()
    for w in windows:
        if int(w) < 1:
            raise ValidationError(f"windows must be positive day counts, got {w}")
        recent = hist[age < int(w)]
        g = recent.groupby("customer")
        feats[f"days_{w}"] = g["day"].nunique().reindex(feats.index, fill_value=0).astype(np.int64)
        feats[f"spend_{w}"] = g["value"].sum().reindex(feats.index, fill_value=0.0)
    last90 = hist[age < 90].groupby("customer")["value"].sum().reindex(feats.index, fill_value=0.0)
    before = hist[age >= 90].groupby("customer")["value"].sum().reindex(feats.index, fill_value=0.0)
    span_before = (feats["T"] - 90).clip(lower=0) / 90  # 90-day periods of history before them
    with np.errstate(divide="ignore", invalid="ignore"):
        feats["spend_trend"] = np.where(span_before > 0, last90 / (before / span_before.where(span_before > 0)), np.nan)
    feats["spend_trend"] = feats["spend_trend"].replace([np.inf, -np.inf], np.nan)
    return feats


def purchase_label(
    orders: pd.DataFrame,
    customers: pd.Index,
    cutoff: Any,
    horizon_days: int = 90,
    *,
    customer_col: str = "user_id",
    time_col: str = "ts",
) -> pd.Series:
    """1 if the customer has an order in ``(cutoff, cutoff + horizon_days]`` (days), else 0,
    for each of ``customers``."""
    _need(orders, [customer_col, time_col], "orders")
    if int(horizon_days) < 1:
        raise ValidationError(f"horizon_days must be >= 1, got {horizon_days}")
    cut = _day(cutoff, "cutoff")
    day = _naive_utc(orders[time_col], time_col).dt.floor("D")
    inside = ((day > cut) & (day <= cut + pd.Timedelta(days=int(horizon_days)))).to_numpy()
    buyers = pd.Index(pd.unique(orders[customer_col].to_numpy()[inside]))
    return pd.Series(customers.isin(buyers).astype(np.int8), index=customers, name="label")


def category_mix(
    orders: pd.DataFrame,
    cutoff: Any,
    *,
    category_col: str = "category",
    customer_col: str = "user_id",
    time_col: str = "ts",
    value_col: str = "value",
    top: int = 10,
) -> pd.DataFrame:
    """Share of each customer's spend (up to ``cutoff``, a day, inclusive) per category:
    ``cat_share_<category>`` for the ``top`` categories by spend up to the cutoff, an ``other``
    share, and ``n_categories`` (distinct categories bought). Missing categories count as other."""
    _need(orders, [category_col, customer_col, time_col, value_col], "orders")
    cut = _day(cutoff, "cutoff")
    day = _naive_utc(orders[time_col], time_col).dt.floor("D")
    hist = orders.loc[(day <= cut).to_numpy(), [customer_col, category_col, value_col]]
    if hist.empty:
        raise ValidationError(f"no orders on or before cutoff {cut.date()}")
    hist = hist.assign(**{value_col: pd.to_numeric(hist[value_col], errors="coerce").fillna(0.0)})
    cats = hist[category_col].astype("string")
    leaders = hist.groupby(cats)[value_col].sum().sort_values(ascending=False).index[: int(top)]
    label = cats.where(cats.isin(leaders), "other").fillna("other")
    spend = hist.groupby([hist[customer_col], label])[value_col].sum().unstack(fill_value=0.0)
    total = spend.sum(axis=1).replace(0.0, np.nan)
    share = spend.div(total, axis=0).fillna(0.0)
    cols = [*leaders, "other"]
    share = share.reindex(columns=cols, fill_value=0.0)
    share.columns = [f"cat_share_{c}" for c in cols]
    share["n_categories"] = hist.groupby(customer_col)[category_col].nunique()
    share.index.name = customer_col
    return share


def session_features(
    events: pd.DataFrame,
    cutoff: Any | None = None,
    first_n: int | None = None,
    *,
    session_col: str = "session_id",
    time_col: str = "ts",
    item_col: str = "item_id",
    type_col: str = "event_type",
) -> pd.DataFrame:
    """Per session, from events at or before ``cutoff`` (an instant; ``None``: all) and only its
    first ``first_n`` events: ``n_events``, ``duration_s``, ``mean_dwell_s``, ``max_dwell_s``,
    ``n_items``, ``n_views``, ``n_carts``, ``n_searches``, ``start_hour``, ``start_weekday``."""
    _need(events, [session_col, time_col, item_col, type_col], "events")
    ts = _naive_utc(events[time_col], time_col)
    frame = pd.DataFrame(
        {
            "session": events[session_col].to_numpy(),
            "ts": ts.to_numpy(),
            "item": events[item_col].to_numpy(),
            "type": events[type_col].astype(str).to_numpy(),
        }
    )
    if cutoff is not None:
        frame = frame[frame["ts"] <= _instant(cutoff, "cutoff")]
    frame = frame.sort_values(["session", "ts"], kind="stable")
    if first_n is not None:
        if int(first_n) < 1:
            raise ValidationError(f"first_n must be >= 1, got {first_n}")
        frame = frame[frame.groupby("session").cumcount() < int(first_n)]
    if frame.empty:
        raise ValidationError("no events before the cutoff")
    frame = frame.assign(
        dwell=frame.groupby("session")["ts"].diff().dt.total_seconds(),
        is_view=frame["type"] == "view",
        is_cart=frame["type"] == "add_to_cart",
        is_search=frame["type"] == "search",
    )
    g = frame.groupby("session", sort=True)
    start = g["ts"].min()
    out = pd.DataFrame(
        {
            "n_events": g.size(),
            "duration_s": (g["ts"].max() - start).dt.total_seconds(),
            "mean_dwell_s": g["dwell"].mean(),
            "max_dwell_s": g["dwell"].max(),
            "n_items": g["item"].nunique(),
            "n_views": g["is_view"].sum().astype(np.int64),
            "n_carts": g["is_cart"].sum().astype(np.int64),
            "n_searches": g["is_search"].sum().astype(np.int64),
            "start_hour": start.dt.hour,
            "start_weekday": start.dt.weekday,
        }
    )
    out.index.name = session_col
    return out


def entity_sharing(
    frame: pd.DataFrame,
    entity_col: str,
    *,
    account_col: str = "user_id",
    time_col: str = "ts",
    cutoff: Any | None = None,
) -> pd.DataFrame:
    """Per row of ``frame`` (same index), as of the row's own time: ``prior_rows`` (earlier rows
    with the same entity) and ``prior_accounts`` (distinct other accounts seen earlier with it).

    "Earlier" is strictly before the row's timestamp, so rows at the same instant do not see each
    other, and no row sees the future. With ``cutoff`` only rows at or before it are counted as
    history (rows after it still get features, from history up to the cutoff only).
    Rows with a missing entity get 0.
    """
    _need(frame, [entity_col, account_col, time_col], "frame")
    ts = _naive_utc(frame[time_col], time_col).to_numpy()
    ent = frame[entity_col]
    known = ent.notna().to_numpy()
    ent_code = pd.factorize(ent.astype("string"))[0].astype(np.int64)
    acct_code = pd.factorize(frame[account_col].astype("string"))[0].astype(np.int64)
    # dense time ranks keep the combined (entity, time) key small enough for int64
    uniq = np.unique(ts)
    t_of = np.searchsorted(uniq, ts).astype(np.int64)
    width = np.int64(len(uniq) + 1)
    in_hist = known.copy()
    if cutoff is not None:
        in_hist &= ts <= np.datetime64(_instant(cutoff, "cutoff"))
    query = ent_code * width + t_of
    # all history rows, sorted by (entity, time)
    hist_keys = np.sort(query[in_hist])
    lo = np.searchsorted(hist_keys, ent_code * width, side="left")
    prior_rows = np.searchsorted(hist_keys, query, side="left") - lo
    # each (entity, account) pair at its first time
    pairs = pd.DataFrame({"e": ent_code[in_hist], "a": acct_code[in_hist], "t": t_of[in_hist]})
    first = pairs.groupby(["e", "a"], sort=False)["t"].min().reset_index()
    first_keys = np.sort(first["e"].to_numpy() * width + first["t"].to_numpy())
    lo_f = np.searchsorted(first_keys, ent_code * width, side="left")
    prior_accounts = np.searchsorted(first_keys, query, side="left") - lo_f
    # don't count the row's own account if it was seen with the entity before
    own = first.set_index(["e", "a"])["t"]
    own_first = own.reindex(pd.MultiIndex.from_arrays([ent_code, acct_code])).to_numpy()
    seen_self = np.nan_to_num(own_first, nan=np.inf) < t_of
    prior_accounts = prior_accounts - seen_self.astype(np.int64)
    out = pd.DataFrame(
        {
            f"{entity_col}_prior_rows": np.where(known, prior_rows, 0).astype(np.int64),
            f"{entity_col}_prior_accounts": np.where(known, prior_accounts, 0).astype(np.int64),
        },
        index=frame.index,
    )
    return out


__all__ = [
    "category_mix",
    "entity_sharing",
    "purchase_features",
    "purchase_label",
    "session_features",
]
