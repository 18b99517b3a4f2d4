"""Read-only views for the dashboard: the shop at a glance, leaderboards, one customer, one product."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request

from shopml.serve import overview as ov
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_state
from shopml.serve.errors import ApiError
from shopml.serve.schemas import errors
from shopml.serve.state import ServeState

router = APIRouter(
    prefix="/v1",
    tags=["overview"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)

UserId = Annotated[str, Path(min_length=1, max_length=256, description="The customer's id.")]
ItemId = Annotated[str, Path(min_length=1, max_length=256, description="The item's id.")]


def api_paths(request: Request) -> list[str]:
    """``METHOD /path`` of every API operation of this app (what the pages may call), read from
    its OpenAPI document (built once per app, then cached by FastAPI)."""
    paths = request.app.openapi().get("paths", {})
    return sorted(f"{m.upper()} {p}" for p, ops in paths.items() for m in ops)


@router.get("/overview", response_model=ov.Overview, summary="Workspace, models and serving status")
def overview(request: Request, state: ServeState = Depends(get_state)) -> ov.Overview:
    """Workspace tables (rows, time ranges), quarantine, events per day, registered models with
    their versions and metrics, what this process serves, and the API's endpoints."""
    return ov.overview(state.settings, state.snapshot, api_paths(request))


@router.get(
    "/leaderboards", response_model=ov.Leaderboards, summary="Benchmark results (model comparisons)"
)
def leaderboards(state: ServeState = Depends(get_state)) -> ov.Leaderboards:
    """The benchmark result files in the server's ``bench_dir`` (``shopml bench`` output)."""
    return ov.leaderboards(state.settings.bench_dir)


@router.get(
    "/customers/{user_id}", response_model=ov.CustomerProfile, summary="A customer's history"
)
def customer(
    user_id: UserId,
    limit: int = Query(50, ge=1, le=1000, description="How many recent events to list."),
    state: ServeState = Depends(get_state),
) -> ov.CustomerProfile:
    """The customer's profile, event counts, orders, completed spend and most recent events, as
    recorded in the workspace (feedback appears here once taken into the events table)."""
    profile = ov.customer(state.settings, user_id, limit)
    if not profile.known:
        raise ApiError(
            404,
            "unknown_user",
            f"user {user_id!r} has no events, orders or users row in the workspace",
            user_id=user_id,
        )
    return profile


@router.get("/items/{item_id}", response_model=ov.ProductProfile, summary="A product's record")
def product(item_id: ItemId, state: ServeState = Depends(get_state)) -> ov.ProductProfile:
    """The item's catalogue entry, events per day, units sold and recorded reviews."""
    profile = ov.product(state.settings, item_id)
    if not profile.known:
        raise ApiError(
            404,
            "unknown_item",
            f"item {item_id!r} is neither in the workspace's catalogue nor in its events",
            item_id=item_id,
        )
    return profile
