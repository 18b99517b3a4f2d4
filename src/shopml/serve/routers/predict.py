"""Predictions about customers and orders: customer lifetime value (BG/NBD + Gamma-Gamma,
``GET /v1/predict/clv``) and the registered task models (``POST /v1/predict/{task}``: churn, fraud, ctr, conversion)."""

from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Annotated, Any

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shopml.core.errors import ShopMLError, ValidationError
from shopml.predict.btyd import check_rfm
from shopml.predict.decision import CostMatrix, bayes_threshold
from shopml.predict.tasks import (
    TASK_OPTIONS,
    LoadedTask,
    load_task,
    score_task,
    scoring_data,
    task_options,
)
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, get_state
from shopml.serve.errors import ApiError
from shopml.serve.schemas import CLV, ModelRef, errors
from shopml.serve.state import LoadedCLV, Snapshot, clv_table
from shopml.serve.workspace_io import open_workspace

router = APIRouter(
    prefix="/v1/predict",
    tags=["predict"],
    dependencies=[Depends(require_read_key)],
    responses=errors(400, 401, 404, 413, 422, 503),
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


# --------------------------------------------------------------------------- churn, fraud, ...
# Models registered by `shopml train predict --task T` (predict/<task>). They are loaded on the
# first request after each reload (the snapshot's generation), together with the scores of
# every row the workspace holds for the task (customers, orders), so an id is a lookup.

MAX_ROWS = 1000


class TaskCosts(BaseModel):
    """A cost matrix for the decision (overrides the task's default; fraud, ctr and conversion have one)."""

    model_config = ConfigDict(extra="forbid")
    tp: float = Field(0.0, ge=-1e9, le=1e9, description="Cost of acting on a positive.")
    fp: float = Field(1.0, ge=-1e9, le=1e9, description="Cost of acting on a negative.")
    fn: float = Field(1.0, ge=-1e9, le=1e9, description="Cost of missing a positive.")
    tn: float = Field(0.0, ge=-1e9, le=1e9, description="Cost of leaving a negative alone.")


class TaskRequest(BaseModel):
    """Rows to score: ids known to the workspace (customers for churn, orders for fraud,
    impressions for ctr, sessions for conversion), or feature rows (the model's feature
    columns; missing numbers may be null)."""

    model_config = ConfigDict(extra="forbid")
    ids: list[Annotated[str, StringConstraints(min_length=1, max_length=256)]] | None = Field(
        None, max_length=MAX_ROWS
    )
    rows: list[dict[str, float | int | str | bool | None]] | None = Field(None, max_length=MAX_ROWS)
    costs: TaskCosts | None = None


class TaskScore(BaseModel):
    id: str | None = None
    probability: float = Field(description="Calibrated P(y=1).")
    p_raw: float = Field(description="The model's probability before calibration.")
    decision: int | None = Field(None, description="1: act (flag, target), from the cost matrix.")
    threshold: float | None = Field(None, description="The Bayes minimum-risk threshold used.")


class TaskResponse(BaseModel):
    task: str
    entity: str
    model: ModelRef
    predictions: list[TaskScore]


@dataclass(frozen=True)
class _Served:
    loaded: LoadedTask
    scores: pd.DataFrame | None  # indexed by entity id (str)
    error: str | None = None


class _TaskCache:
    """Loaded task models per snapshot generation (a reload makes the next request load anew)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.generation: int | None = None
        self.models: dict[str, _Served | None] = {}

    def get(self, state: Any, snap: Snapshot, task: str) -> _Served | None:
        with self.lock:
            if self.generation != snap.generation:
                self.generation, self.models = snap.generation, {}
            if task not in self.models:
                self.models[task] = _load_served(state, task)
            return self.models[task]


# one cache per server state (an app), dropped with it
_CACHES: weakref.WeakKeyDictionary[Any, _TaskCache] = weakref.WeakKeyDictionary()
_CACHES_LOCK = threading.Lock()


def _cache_of(state: Any) -> _TaskCache:
    with _CACHES_LOCK:
        cache = _CACHES.get(state)
        if cache is None:
            cache = _CACHES[state] = _TaskCache()
        return cache


def _load_served(state: Any, task: str) -> _Served | None:
    from shopml.registry import ModelNotFoundError, Registry

    reg = Registry(state.settings.registry)
    try:
        mv = reg.latest("predict", task)
    except ModelNotFoundError:
        return None
    loaded = load_task(reg, mv)
    try:
        with open_workspace(state.settings.workspace, read_only=True) as ws:
            ids, X = scoring_data(task, ws, task_options(task, loaded.config.get("options")))
        scores = score_task(loaded, X)
        scores.index = pd.Index(ids, name="id")
        return _Served(loaded, scores[~scores.index.duplicated()])
    except Exception as exc:  # noqa: BLE001 - feature rows are still served
        return _Served(loaded, None, f"{type(exc).__name__}: {exc}")


@router.post(
    "/{task}",
    response_model=TaskResponse,
    summary="Score customers, orders, impressions or sessions with a registered task model (churn, fraud, ctr, conversion)",
)
def predict_task(
    body: TaskRequest,
    task: str = Path(..., min_length=1, max_length=64, pattern=r"^[a-z_]+$"),
    state: Any = Depends(get_state),
    snap: Snapshot = Depends(get_snapshot),
) -> TaskResponse:
    """Calibrated probabilities and, with a cost matrix (the task's default, or ``costs``), the
    Bayes minimum-risk decision, for workspace ids or explicit feature rows."""
    if task == "clv":
        raise ApiError(422, "invalid_request", "CLV is served by GET /v1/predict/clv")
    if task not in TASK_OPTIONS:
        raise ApiError(404, "unknown_task", f"no prediction task {task!r}; tasks: {sorted(TASK_OPTIONS)} and clv")
    if (body.ids is None) == (body.rows is None):
        raise ApiError(422, "invalid_request", "give exactly one of ids or rows")
    try:
        served = _cache_of(state).get(state, snap, task)
    except Exception as exc:  # noqa: BLE001 - a broken version is a service problem, not the caller's
        raise ApiError(503, "no_model", f"predict/{task} failed to load: {type(exc).__name__}: {exc}") from None
    if served is None:
        raise ApiError(503, "no_model", f"no {task} model is registered (predict/{task}); run `shopml train predict --task {task}` and reload")
    loaded = served.loaded
    costs = CostMatrix(**body.costs.model_dump()) if body.costs is not None else None
    if body.ids is not None:
        if served.scores is None:
            raise ApiError(503, "no_scores", f"the workspace's rows could not be scored: {served.error}; send feature rows instead")
        ids = [str(i) for i in body.ids]
        missing = [i for i in ids if i not in served.scores.index]
        if missing:
            raise ApiError(404, "unknown_id", f"{loaded.config.get('entity', 'id')} not in the workspace: {missing[:5]}", ids=missing[:20])
        frame = served.scores.loc[ids].reset_index()
        if costs is not None:
            frame = _decide(frame, costs)
    else:
        X = pd.DataFrame.from_records(body.rows)
        for c in loaded.model.encoder_.numeric_:
            if c in X.columns:
                X[c] = pd.to_numeric(X[c], errors="coerce")
        try:
            if costs is None and task == "fraud" and "purchase_value" not in X.columns:
                raise ValidationError("rows lack purchase_value, which the fraud decision's costs need")
            frame = score_task(loaded, X, costs)
        except ShopMLError as exc:
            raise ApiError(422, "invalid_request", str(exc)) from None
        frame.insert(0, "id", None)
    preds = [
        TaskScore(
            id=r["id"],
            probability=float(r["probability"]),
            p_raw=float(r["p_raw"]),
            decision=int(r["decision"]) if "decision" in r and pd.notna(r["decision"]) else None,
            threshold=float(r["threshold"]) if "threshold" in r and pd.notna(r["threshold"]) else None,
        )
        for r in frame.to_dict(orient="records")
    ]
    return TaskResponse(
        task=task,
        entity=str(loaded.config.get("entity", "id")),
        model=ModelRef(name=loaded.version.name, version=loaded.version.version),
        predictions=preds,
    )


def _decide(frame: pd.DataFrame, costs: CostMatrix) -> pd.DataFrame:
    try:
        thr = float(bayes_threshold(costs))
    except ShopMLError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    return frame.assign(threshold=thr, decision=(frame["probability"] >= thr).astype(int))
