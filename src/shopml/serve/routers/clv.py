"""Customer lifetime value (BG/NBD + Gamma-Gamma): ``GET /v1/predict/clv``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query
from starlette.concurrency import run_in_threadpool

from shopml.predict.btyd import check_rfm
from shopml.predict.serving import ServedCLV, clv_table
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.errors import ApiError
from shopml.serve.responses import FastJSON
from shopml.serve.schemas import CLV, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1/predict",
    tags=["predict"],
    dependencies=[Depends(require_read_key)],
    responses=errors(400, 401, 404, 413, 422, 503),
)

UNITS = {"D": "day", "W": "week"}


def _segment(clv: ServedCLV, value: float) -> tuple[float | None, str | None]:
    ref = clv.sorted_clv
    if ref is None or not len(ref) or not np.isfinite(value):
        return None, None
    pct = 100.0 * np.searchsorted(ref, value, side="left") / len(ref)
    return float(pct), "high" if pct >= 80 else "low" if pct < 50 else "mid"


NUMBERS = ("p_alive", "expected_purchases", "expected_spend", "clv")


def clv_numbers(
    clv: ServedCLV,
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


class CustomerTable:
    """The workspace's customers of a served CLV model as a dict (id -> row) and float columns:
    an answer for a customer is a hash lookup and a few array reads (no pandas per request;
    ``bench/serve_cpu.py``: see ``docs/serving.md``)."""

    COLUMNS = ("frequency", "recency", "T", "monetary_value", *NUMBERS)

    def __init__(self, customers: pd.DataFrame) -> None:
        self.row = {str(u): i for i, u in enumerate(customers.index)}
        self.cols = {
            c: customers[c].to_numpy(dtype=np.float64) for c in self.COLUMNS if c in customers
        }

    def values(self, user_id: str) -> dict[str, float | None] | None:
        """The customer's summary and (where precomputed) numbers; None for an unknown id."""
        i = self.row.get(user_id)
        if i is None:
            return None
        return {c: _num(col[i]) for c, col in self.cols.items()}


def _num(v: float) -> float | None:
    return float(v) if v == v else None  # NaN -> None


#: id(ServedCLV) -> (the object, its table): built on a model's first request, reused after
_TABLES: dict[int, tuple[ServedCLV, CustomerTable]] = {}


def customer_table(clv: ServedCLV) -> CustomerTable | None:
    """The lookup table of a served CLV model's customers (None without customers)."""
    if clv.customers is None:
        return None
    hit = _TABLES.get(id(clv))
    if hit is not None and hit[0] is clv:
        return hit[1]
    table = CustomerTable(clv.customers)
    if len(_TABLES) >= 8:
        _TABLES.pop(next(iter(_TABLES)))
    _TABLES[id(clv)] = (clv, table)
    return table


def customer_numbers(
    clv: ServedCLV, user_id: str, h: float, d: float
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
async def predict_clv(
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
) -> FastJSON:
    """Expected purchases, spend and CLV over a horizon, for a customer id or an RFM summary,
    with the customer's CLV percentile among the workspace's customers and a segment."""
    loaded = served_model(snap, "clv")
    clv: ServedCLV = loaded.obj
    rfm_given = [v is not None for v in (frequency, recency, T)]
    if (user_id is not None) == any(rfm_given) or (user_id is None and not all(rfm_given)):
        raise ApiError(
            422,
            "invalid_request",
            "give either user_id, or frequency, recency and T (and optionally monetary_value)",
        )
    h = float(horizon if horizon is not None else clv.config["horizon"])
    d = float(discount_rate if discount_rate is not None else clv.config["discount_rate"])
    if user_id is not None:
        table = customer_table(clv)
        row = table.values(user_id) if table is not None else None
        if row is None:
            raise ApiError(
                404,
                "unknown_customer",
                f"user {user_id!r} has no completed orders in the workspace, so there is no purchase "
                "history to value; pass frequency, recency and T instead",
                user_id=user_id,
            )
        x, tx, age = row["frequency"], row["recency"], row["T"]
        monetary_value = row["monetary_value"] if x > 0 else None
        defaults = h == float(clv.config["horizon"]) and d == float(clv.config["discount_rate"])
        if defaults and "clv" in row:  # valued at load: a lookup
            numbers = {k: row[k] for k in NUMBERS}
        else:  # the BG/NBD + Gamma-Gamma computation (milliseconds): off the event loop
            numbers = await run_in_threadpool(clv_numbers, clv, x, tx, age, monetary_value, h, d)
    else:
        x, tx, age = (float(v) for v in check_rfm(frequency, recency, T))
        numbers = await run_in_threadpool(clv_numbers, clv, x, tx, age, monetary_value, h, d)
    return FastJSON(_answer(clv, loaded.ref, user_id, x, tx, age, monetary_value, h, d, numbers))


def _answer(
    clv: ServedCLV,
    ref: dict[str, str],
    user_id: str | None,
    x: float,
    tx: float,
    age: float,
    monetary_value: float | None,
    h: float,
    d: float,
    numbers: dict[str, float | None],
) -> dict[str, Any]:
    """The CLV answer (the :class:`~shopml.serve.schemas.CLV` fields)."""
    if numbers["p_alive"] is None or numbers["expected_purchases"] is None or not np.isfinite(
        [v for v in numbers.values() if v is not None]
    ).all():
        raise ApiError(422, "unprocessable", "the model gives no finite value for this summary")
    value = numbers["clv"]
    pct, segment = _segment(clv, value) if value is not None else (None, None)
    return {
        "user_id": user_id,
        "unit": UNITS[clv.config["freq"]],
        "frequency": x,
        "recency": tx,
        "T": age,
        "monetary_value": monetary_value,
        "horizon": h,
        "discount_rate": d,
        **numbers,
        "percentile": pct,
        "segment": segment,
        "model": ref,
    }
