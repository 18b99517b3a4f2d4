"""Recency / frequency / monetary summaries of transactions, cut at an explicit date.

The buy-till-you-die convention (Fader & Hardie; the ``lifetimes`` package): transactions are
aggregated per customer and calendar day (several orders on one day are one purchase), then

- ``frequency``: repeat purchases, the number of distinct purchase days minus one;
- ``recency``: time from the first to the last purchase (0 without repeat purchases);
- ``T``: age, time from the first purchase to the end of the calibration period;
- ``monetary_value``: mean spend per repeat purchase day (the first purchase excluded);

in days (``freq="D"``) or weeks (``freq="W"``: days / 7, as the CDNOW summaries). Days are
UTC calendar days; ``calibration_end`` and ``observation_end`` are days and inclusive.
Nothing after ``calibration_end`` reaches a calibration column: the holdout columns (purchases
in ``(calibration_end, observation_end]``) are the only ones that look past it, and only for
customers already seen in the calibration period.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError

UNIT_DAYS = {"D": 1.0, "W": 7.0}


def _day(value: Any, name: str) -> pd.Timestamp:
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{name} must be a date, got {value!r}: {exc}") from None
    if ts is pd.NaT:
        raise ValidationError(f"{name} must be a date, got {value!r}")
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.floor("D")


def _unit(freq: str) -> float:
    if freq not in UNIT_DAYS:
        raise ValidationError(
            f"freq must be one of {sorted(UNIT_DAYS)} (days, weeks), got {freq!r}"
        )
    return UNIT_DAYS[freq]


def daily_purchases(
    transactions: pd.DataFrame,
    customer_col: str = "user_id",
    time_col: str = "ts",
    value_col: str | None = None,
) -> pd.DataFrame:
    """One row per customer and purchase day: ``customer, day, value, n_transactions``.

    Sorted by customer, then day. ``value`` is the day's total spend (0 without ``value_col``).
    """
    if not isinstance(transactions, pd.DataFrame):
        raise ValidationError(
            f"transactions must be a pandas DataFrame, got {type(transactions).__name__}"
        )
    need = [customer_col, time_col] + ([value_col] if value_col else [])
    missing = [c for c in need if c not in transactions.columns]
    if missing:
        raise ValidationError(
            f"transactions lack column(s) {missing}; columns are {list(transactions.columns)}"
        )
    cust = transactions[customer_col]
    if cust.isna().any():
        raise ValidationError(
            f"{int(cust.isna().sum())} transaction(s) have no {customer_col}; "
            "anonymous orders cannot be followed over time: filter them out first"
        )
    try:
        ts = pd.to_datetime(transactions[time_col])
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{time_col} must hold dates or timestamps: {exc}") from None
    if ts.isna().any():
        raise ValidationError(f"{int(ts.isna().sum())} transaction(s) have no {time_col}")
    if ts.dt.tz is not None:
        ts = ts.dt.tz_convert("UTC").dt.tz_localize(None)
    if value_col:
        value = pd.to_numeric(transactions[value_col], errors="coerce")
        if value.isna().any():
            raise ValidationError(
                f"{int(value.isna().sum())} transaction(s) have a missing or non-numeric {value_col}"
            )
    else:
        value = pd.Series(0.0, index=transactions.index)
    frame = pd.DataFrame(
        {
            "customer": cust.to_numpy(),
            "day": ts.dt.floor("D").to_numpy(),
            "value": value.to_numpy(dtype=np.float64),
        }
    )
    daily = frame.groupby(["customer", "day"], sort=True).agg(
        value=("value", "sum"), n_transactions=("value", "size")
    )
    return daily.reset_index()


def _calibration(
    daily: pd.DataFrame, cal_end: pd.Timestamp, unit: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    cal = daily[daily["day"] <= cal_end]
    if cal.empty:
        first = daily["day"].min() if len(daily) else None
        raise ValidationError(
            f"no transactions on or before calibration_end {cal_end.date()} (first is {first})"
        )
    g = cal.groupby("customer", sort=True)
    first, last = g["day"].min(), g["day"].max()
    n_days = g.size()
    total, first_value = g["value"].sum(), g["value"].first()  # rows are day-sorted
    freq = (n_days - 1).astype(np.int64)
    out = pd.DataFrame(
        {
            "frequency": freq,
            "recency": (last - first).dt.days / unit,
            "T": (cal_end - first).dt.days / unit,
            "monetary_value": np.where(freq > 0, (total - first_value) / freq.clip(lower=1), 0.0),
        }
    )
    return out, cal


def rfm_summary(
    transactions: pd.DataFrame,
    calibration_end: Any,
    observation_end: Any | None = None,
    *,
    customer_col: str = "user_id",
    time_col: str = "ts",
    value_col: str | None = None,
    freq: Literal["D", "W"] = "D",
) -> pd.DataFrame:
    """BTYD summary per customer seen up to ``calibration_end`` (inclusive), indexed by customer.

    Columns ``frequency, recency, T, monetary_value`` (``monetary_value`` is 0 without
    ``value_col``). With ``observation_end``, also ``frequency_holdout`` (distinct purchase days
    in ``(calibration_end, observation_end]``), ``monetary_value_holdout`` (mean spend per such
    day, 0 without any) and ``duration_holdout``. Transactions after ``observation_end`` (or
    after ``calibration_end`` without one) are ignored.
    """
    unit = _unit(freq)
    cal_end = _day(calibration_end, "calibration_end")
    daily = daily_purchases(transactions, customer_col, time_col, value_col)
    out, _ = _calibration(daily, cal_end, unit)
    if observation_end is not None:
        obs_end = _day(observation_end, "observation_end")
        if obs_end <= cal_end:
            raise ValidationError(
                f"observation_end ({obs_end.date()}) must be after calibration_end ({cal_end.date()})"
            )
        hold = daily[(daily["day"] > cal_end) & (daily["day"] <= obs_end)]
        hold = hold[hold["customer"].isin(out.index)]
        g = hold.groupby("customer", sort=True)
        out["frequency_holdout"] = g.size().reindex(out.index, fill_value=0).astype(np.int64)
        out["monetary_value_holdout"] = g["value"].mean().reindex(out.index, fill_value=0.0)
        out["duration_holdout"] = (obs_end - cal_end).days / unit
    out.index.name = customer_col
    return out


def rfm_features(
    transactions: pd.DataFrame,
    cutoff: Any,
    *,
    customer_col: str = "user_id",
    time_col: str = "ts",
    value_col: str | None = None,
    freq: Literal["D", "W"] = "D",
) -> pd.DataFrame:
    """Features for a supervised model, from transactions up to ``cutoff`` (inclusive) only.

    The :func:`rfm_summary` columns plus ``time_since_last`` (T - recency), ``n_transactions``
    (orders, not days), ``total_value``, ``first_value`` (spend on the first day), ``last_value``,
    and inter-purchase times between purchase days: ``ipt_mean``, ``ipt_std``, ``ipt_last``
    (NaN where undefined: fewer than 2 or 3 purchase days).
    """
    unit = _unit(freq)
    cut = _day(cutoff, "cutoff")
    daily = daily_purchases(transactions, customer_col, time_col, value_col)
    out, cal = _calibration(daily, cut, unit)
    g = cal.groupby("customer", sort=True)
    gap = cal.groupby("customer", sort=True)["day"].diff().dt.days / unit
    gaps = gap.groupby(cal["customer"], sort=True)
    out["time_since_last"] = out["T"] - out["recency"]
    out["n_transactions"] = g["n_transactions"].sum().astype(np.int64)
    out["total_value"] = g["value"].sum()
    out["first_value"] = g["value"].first()
    out["last_value"] = g["value"].last()
    out["ipt_mean"] = gaps.mean()
    out["ipt_std"] = gaps.std()
    out["ipt_last"] = gaps.last()
    out.index.name = customer_col
    return out


__all__ = ["UNIT_DAYS", "daily_purchases", "rfm_features", "rfm_summary"]
