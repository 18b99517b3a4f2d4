"""Demand forecasts (``GET /v1/forecast/{item_id}``) and replenishment orders
(``GET /v1/replenishment``), answered from the registered forecasts: no refitting at request
time (the forecast capability's ``load`` gives a :class:`~shopml.forecast.train.ForecastTable`).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel

from shopml.core.errors import ValidationError
from shopml.forecast.train import ForecastTable
from shopml.inventory import ReplenishmentPolicy, replenishment
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.errors import ApiError
from shopml.serve.schemas import ModelRef, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["forecast"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)
replenishment_router = APIRouter(
    prefix="/v1",
    tags=["inventory"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)


class ForecastStep(BaseModel):
    """One period's forecast."""

    ds: str
    step: int
    point: float
    quantiles: dict[str, float]
    intervals: dict[str, list[float]]


class HistoryPoint(BaseModel):
    ds: str
    y: float


class ItemForecast(BaseModel):
    """An item's forecasts with its recent history (for the fan chart)."""

    item_id: str
    model: ModelRef
    freq: str | None = None
    steps: list[ForecastStep]
    history: list[HistoryPoint]
    params: dict = {}


class OrderLine(BaseModel):
    item_id: str
    on_hand: float
    reorder_point: float
    order_up_to: float
    order_qty: float
    expected_demand: float


class Replenishment(BaseModel):
    """Order quantities per item under a policy and service target."""

    model: ModelRef
    policy: str
    service: str
    target: float
    lead_time: int
    orders: list[OrderLine]


def _table(snap: Snapshot, model: str | None) -> tuple[ForecastTable, ModelRef]:
    loaded = served_model(snap, "forecast", model)
    table = loaded.obj
    if not isinstance(table, ForecastTable):  # pragma: no cover - a foreign loader
        raise ApiError(503, "no_model", f"forecast/{loaded.name} did not load as a forecast table")
    return table, ModelRef(name=loaded.name, version=loaded.version.version)


class ForecastItems(BaseModel):
    """The items with registered forecasts, by forecast units over the horizon (most first)."""

    model: ModelRef
    horizon: int
    items: list[dict]


@router.get("/forecast", response_model=ForecastItems, summary="Items with forecasts")
def forecast_items(
    limit: int = Query(20, ge=1, le=1000),
    model: str | None = Query(None, max_length=128),
    snap: Snapshot = Depends(get_snapshot),
) -> ForecastItems:
    """The items with the most forecast units over the registered horizon."""
    table, ref = _table(snap, model)
    tot = (
        table.forecast.groupby("unique_id")["point"]
        .sum()
        .sort_values(ascending=False, kind="stable")
    )
    items = [{"item_id": str(k), "units": round(float(v), 3)} for k, v in tot.head(limit).items()]
    return ForecastItems(model=ref, horizon=table.horizon, items=items)


@router.get(
    "/forecast/{item_id}", response_model=ItemForecast, summary="Forecast one item's demand"
)
def forecast_item(
    item_id: str = Path(..., min_length=1, max_length=200),
    h: int | None = Query(
        None, ge=1, le=520, description="Periods ahead (default: all registered)."
    ),
    model: str | None = Query(
        None, max_length=128, description="Forecast model (default: the served one)."
    ),
    snap: Snapshot = Depends(get_snapshot),
) -> ItemForecast:
    """Point forecast, quantiles 0.025..0.975 and 80/95% intervals per period, with history."""
    table, ref = _table(snap, model)
    if h is not None and h > table.horizon:
        raise ApiError(
            422, "invalid_request", f"h={h}: the registered forecasts cover {table.horizon} periods"
        )
    try:
        body = table.for_item(item_id, h)
    except KeyError:
        raise ApiError(404, "unknown_item", f"no forecast for item {item_id!r}") from None
    return ItemForecast(model=ref, freq=table.info.get("freq"), **body)


@replenishment_router.get(
    "/replenishment", response_model=Replenishment, summary="Order quantities per item"
)
def replenishment_plan(
    item_id: list[str] | None = Query(
        None, max_length=1000, description="Items (default: every forecast item)."
    ),
    on_hand: list[float] | None = Query(
        None,
        max_length=1000,
        description="Stock on hand and on order, one per item_id (default 0).",
    ),
    lead_time: int = Query(1, ge=0, le=52),
    target: float = Query(0.95, gt=0, lt=1),
    service: Literal["fill_rate", "cycle"] = "fill_rate",
    policy: Literal["base_stock", "sS"] = "base_stock",
    order_cost: float = Query(0.0, ge=0, le=1e9),
    holding: float = Query(1.0, gt=0, le=1e9),
    shortage: float = Query(19.0, gt=0, le=1e9),
    model: str | None = Query(None, max_length=128),
    snap: Snapshot = Depends(get_snapshot),
) -> Replenishment:
    """What to order now per item: the policy's levels from the served forecast quantiles."""
    table, ref = _table(snap, model)
    if lead_time + 1 > table.horizon:
        raise ApiError(
            422,
            "invalid_request",
            f"lead_time={lead_time} needs {lead_time + 1} forecast periods; {table.horizon} are "
            "registered",
        )
    if on_hand is not None and (item_id is None or len(on_hand) != len(item_id)):
        raise ApiError(422, "invalid_request", "on_hand needs one value per item_id")
    if on_hand is not None and not all(np.isfinite(v) and v >= 0 for v in on_hand):
        raise ApiError(422, "invalid_request", "on_hand values must be finite and >= 0")
    frame = table.frame(lead_time + 1)
    if item_id:
        unknown = sorted(set(item_id) - set(table.items))
        if unknown:
            raise ApiError(404, "unknown_item", f"no forecast for item(s) {unknown[:10]}")
        frame = frame[frame["unique_id"].isin(item_id)]
    stock = None
    if on_hand is not None and item_id:
        stock = pd.DataFrame({"unique_id": item_id, "on_hand": on_hand})
    try:
        pol = ReplenishmentPolicy(
            policy=policy,
            lead_time=lead_time,
            target=target,
            service=service,
            holding=holding,
            shortage=shortage,
            order_cost=order_cost,
        )
        plan = replenishment(frame, pol, stock)
    except ValidationError as exc:
        raise ApiError(422, "invalid_request", str(exc)) from None
    orders = [
        OrderLine(
            item_id=r.unique_id,
            on_hand=float(r.on_hand),
            reorder_point=round(float(r.reorder_point), 3),
            order_up_to=round(float(r.order_up_to), 3),
            order_qty=float(r.order_qty),
            expected_demand=round(float(r.protection_point), 3),
        )
        for r in plan.itertuples(index=False)
    ]
    return Replenishment(
        model=ref, policy=policy, service=service, target=target, lead_time=lead_time, orders=orders
    )
