"""The registered task models (``POST /v1/predict/{task}``: churn, fraud, ctr, conversion).

Each is loaded with the snapshot (:func:`shopml.predict.serving.load_task_for_serving`), with
the scores of every row the workspace holds for the task (customers, orders), so an id is a
lookup. CLV is served by :mod:`shopml.serve.routers.clv`."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from shopml.core.errors import ShopMLError, ValidationError
from shopml.predict.decision import CostMatrix, bayes_threshold
from shopml.predict.serving import ServedTask
from shopml.predict.tasks import TASK_OPTIONS, score_task
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot
from shopml.serve.errors import ApiError
from shopml.serve.schemas import ModelRef, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1/predict",
    tags=["predict"],
    dependencies=[Depends(require_read_key)],
    responses=errors(400, 401, 404, 413, 422, 503),
)

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


@router.post(
    "/{task}",
    response_model=TaskResponse,
    summary="Score customers, orders, impressions or sessions with a registered task model (churn, fraud, ctr, conversion)",
)
def predict_task(
    body: TaskRequest,
    task: str = Path(..., min_length=1, max_length=64, pattern=r"^[a-z_]+$"),
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
    found = snap.served("predict").get(task)
    if found is None:
        raise ApiError(503, "no_model", f"no {task} model is loaded (predict/{task}); run `shopml train predict --task {task}` and reload")
    served: ServedTask = found.obj
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
