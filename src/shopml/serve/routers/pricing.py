"""Recommended prices and price elasticities from the registry's pricing model (no refitting)."""

from __future__ import annotations

import math

import pandas as pd
from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.errors import ApiError
from shopml.serve.schemas import ModelRef, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["pricing"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)


class PriceRecommendation(BaseModel):
    """One product's recommended price and what it is expected to bring."""

    item_id: str
    category: str
    current_price: float
    price: float
    change: float
    expected_units: float | None
    expected_profit: float | None
    current_units: float | None
    current_profit: float | None
    binding: str
    elasticity: float
    elasticity_lower: float | None
    elasticity_upper: float | None


class Prices(BaseModel):
    """Recommended prices, the horizon they are planned for, and the model that planned them."""

    model: ModelRef
    horizon: int
    freq: str
    prices: list[PriceRecommendation]


class Elasticity(BaseModel):
    """A product's own-price elasticity with its interval."""

    item_id: str
    category: str
    elasticity: float
    lower: float | None
    upper: float | None
    se: float | None
    n_obs: int
    units: float


class Elasticities(BaseModel):
    model: ModelRef
    level: float
    elasticities: list[Elasticity]


def _num(v: object) -> float | None:
    f = float(v)  # type: ignore[arg-type]
    return f if math.isfinite(f) else None


def _pick(frame: pd.DataFrame, item_id: list[str] | None, category: list[str] | None,
          limit: int) -> pd.DataFrame:
    if item_id:
        known = set(frame["unique_id"])
        unknown = [i for i in item_id if i not in known]
        if unknown:
            raise ApiError(404, "unknown_item", f"no price for item(s) {unknown[:5]}")
        frame = frame[frame["unique_id"].isin(item_id)]
    if category:
        frame = frame[frame["category"].isin(category)]
    return frame.head(limit)


@router.get("/prices", response_model=Prices, summary="Recommended prices")
def prices(
    item_id: list[str] | None = Query(None, max_length=1000, description="Only these items."),
    category: list[str] | None = Query(None, max_length=100, description="Only these categories."),
    limit: int = Query(1000, ge=1, le=100_000, description="At most this many items."),
    model: str | None = Query(None, max_length=100, description="Pricing model (default one)."),
    snap: Snapshot = Depends(get_snapshot),
) -> Prices:
    """Recommended price per item with expected units and profit over the planned horizon, and
    the constraint that binds (``max_change``, ``min_margin``, ``capacity``,
    ``category_budget``, ``ladder``, ``infeasible`` or ``none``)."""
    loaded = served_model(snap, "pricing", model)
    served = loaded.obj
    frame = _pick(served.prices, item_id, category, limit)
    rows = [
        PriceRecommendation(
            item_id=str(r.unique_id), category=str(r.category),
            current_price=float(r.current_price), price=float(r.price), change=float(r.change),
            expected_units=_num(r.units), expected_profit=_num(r.profit),
            current_units=_num(r.current_units), current_profit=_num(r.current_profit),
            binding=str(r.binding), elasticity=float(r.elasticity),
            elasticity_lower=_num(r.lower), elasticity_upper=_num(r.upper),
        )
        for r in frame.itertuples(index=False)
    ]
    return Prices(
        model=ModelRef(name=loaded.name, version=loaded.version.version),
        horizon=int(served.config.get("horizon", 1)),
        freq=str(served.config.get("freq", "")),
        prices=rows,
    )


@router.get("/prices/elasticities", response_model=Elasticities, summary="Price elasticities")
def elasticities(
    item_id: list[str] | None = Query(None, max_length=1000, description="Only these items."),
    category: list[str] | None = Query(None, max_length=100, description="Only these categories."),
    limit: int = Query(1000, ge=1, le=100_000),
    model: str | None = Query(None, max_length=100, description="Pricing model (default one)."),
    snap: Snapshot = Depends(get_snapshot),
) -> Elasticities:
    """Each item's own-price elasticity with its confidence interval (sorted by units sold)."""
    loaded = served_model(snap, "pricing", model)
    served = loaded.obj
    frame = served.elasticities.sort_values("units", ascending=False)
    frame = _pick(frame, item_id, category, limit)
    return Elasticities(
        model=ModelRef(name=loaded.name, version=loaded.version.version),
        level=float(served.model.level),
        elasticities=[
            Elasticity(
                item_id=str(r.unique_id), category=str(r.category),
                elasticity=float(r.elasticity), lower=_num(r.lower), upper=_num(r.upper),
                se=_num(r.se), n_obs=int(r.n_obs), units=float(r.units),
            )
            for r in frame.itertuples(index=False)
        ],
    )
