"""Predictions about customers: so far customer lifetime value (BG/NBD + Gamma-Gamma)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query

from shopml.predict.btyd import check_rfm
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot
from shopml.serve.errors import ApiError
from shopml.serve.schemas import CLV, ModelRef, errors
from shopml.serve.state import LoadedCLV, Snapshot, clv_table

router = APIRouter(
    prefix="/v1/predict",
    tags=["predict"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)

UNITS = {"D": "day", "W": "week"}


def _segment(clv: LoadedCLV, value: float) -> tuple[float | None, str | None]:
    ref = clv.sorted_clv
    if ref is None or not len(ref) or not np.isfinite(value):
        return None, None
    pct = 100.0 * np.searchsorted(ref, value, side="left") / len(ref)
    return float(pct), "high" if pct >= 80 else "low" if pct < 50 else "mid"


NUMBERS = ("p_alive", "expected_purchases", "expected_spend", "clv")


def clv_numbers(
    clv: LoadedCLV,
    x: float,
    tx: float,
    age: float,
    monetary_value: float | None,
    h: float,
    d: float,
) -> dict[str, float | None]:
    """The model calls behind one answer: P(alive), purchases, spend per purchase and CLV."""
    frame = pd.DataFrame(
        {
            "frequency": [x],
            "recency": [tx],
            "T": [age],
            "monetary_value": [np.nan if monetary_value is None else monetary_value],
        }
    )
    row = clv_table(clv, frame, h, d).iloc[0]
    return {k: None if pd.isna(row[k]) else float(row[k]) for k in NUMBERS}


def customer_numbers(
    clv: LoadedCLV, user_id: str, h: float, d: float
) -> tuple[pd.Series, dict[str, float | None]]:
    """A workspace customer's summary and numbers: looked up where precomputed at load (default
    horizon and discount), computed otherwise."""
    row = clv.customers.loc[user_id]
    defaults = h == float(clv.config["horizon"]) and d == float(clv.config["discount_rate"])
    if defaults and "clv" in row.index:
        return row, {k: None if pd.isna(row[k]) else float(row[k]) for k in NUMBERS}
    m = float(row["monetary_value"]) if row["frequency"] > 0 else None
    return row, clv_numbers(
        clv, float(row["frequency"]), float(row["recency"]), float(row["T"]), m, h, d
    )


@router.get(
    "/clv",
    response_model=CLV,
    summary="Customer lifetime value",
)
def predict_clv(
    user_id: str | None = Query(
        None,
        min_length=1,
        max_length=256,
        description="A customer of the workspace: "
        "their summary is computed from their completed orders.",
    ),
    frequency: float | None = Query(
        None, ge=0, le=1e6, description="Repeat purchases (whole number)."
    ),
    recency: float | None = Query(
        None, ge=0, le=1e6, description="Time from first to last purchase."
    ),
    T: float | None = Query(None, ge=0, le=1e6, description="Time from first purchase to now."),
    monetary_value: float | None = Query(
        None, ge=0, le=1e9, description="Mean spend per repeat purchase."
    ),
    horizon: float | None = Query(
        None, gt=0, le=1e4, description="Horizon in the model's time unit (default: the model's)."
    ),
    discount_rate: float | None = Query(
        None,
        ge=0,
        le=1,
        description="Discount rate per step (the model's step: a month by default).",
    ),
    snap: Snapshot = Depends(get_snapshot),
) -> CLV:
    """Expected purchases, spend and CLV over a horizon, for a customer id or an RFM summary,
    with the customer's CLV percentile among the workspace's customers and a segment."""
    clv = snap.clv
    if clv is None:
        raise ApiError(
            503,
            "no_model",
            "no CLV model is loaded (registry predict/clv); register one and reload",
        )
    rfm_given = [v is not None for v in (frequency, recency, T)]
    if (user_id is not None) == any(rfm_given) or (user_id is None and not all(rfm_given)):
        raise ApiError(
            422,
            "invalid_request",
            "give either user_id, or frequency, recency and T (and optionally monetary_value)",
        )
    if user_id is not None:
        customers = clv.customers
        if customers is None or user_id not in customers.index:
            raise ApiError(
                404,
                "unknown_customer",
                f"user {user_id!r} has no completed orders in the workspace, so there is no purchase "
                "history to value; pass frequency, recency and T instead",
                user_id=user_id,
            )
    h = float(horizon if horizon is not None else clv.config["horizon"])
    d = float(discount_rate if discount_rate is not None else clv.config["discount_rate"])
    if user_id is not None:
        row, numbers = customer_numbers(clv, user_id, h, d)
        x, tx, age = float(row["frequency"]), float(row["recency"]), float(row["T"])
        monetary_value = float(row["monetary_value"]) if x > 0 else None
    else:
        x, tx, age = (float(v) for v in check_rfm(frequency, recency, T))
        numbers = clv_numbers(clv, x, tx, age, monetary_value, h, d)
    value = numbers["clv"]
    pct, segment = _segment(clv, value) if value is not None else (None, None)
    if not np.isfinite([v for v in numbers.values() if v is not None]).all():
        raise ApiError(422, "unprocessable", "the model gives no finite value for this summary")
    return CLV(
        user_id=user_id,
        unit=UNITS[clv.config["freq"]],
        frequency=x,
        recency=tx,
        T=age,
        monetary_value=monetary_value,
        horizon=h,
        discount_rate=d,
        **numbers,
        percentile=pct,
        segment=segment,
        model=ModelRef(**clv.ref),
    )
