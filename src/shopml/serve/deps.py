"""Dependencies shared by the routers: the state, the current snapshot, the chosen model."""

from __future__ import annotations

from fastapi import Request

from shopml.serve.errors import ApiError
from shopml.serve.state import LoadedRecommender, ServeState, Snapshot


async def get_state(request: Request) -> ServeState:
    return request.app.state.serve


async def get_snapshot(request: Request) -> Snapshot:
    """The snapshot this request uses from start to end (taken once)."""
    snap = request.app.state.serve.snapshot
    if snap is None:
        raise ApiError(503, "not_ready", "models are not loaded yet; see /readyz")
    return snap


def pick_recommender(snap: Snapshot, name: str | None) -> LoadedRecommender:
    """The named recommender, or the default one."""
    if not snap.recommenders:
        raise ApiError(
            503,
            "no_recommender",
            "no recommender is loaded; train one (`shopml train recommend`) and POST /v1/admin/reload",
        )
    chosen = name or snap.default_recommender
    rec = snap.recommenders.get(chosen) if chosen else None
    if rec is None:
        raise ApiError(
            404,
            "unknown_model",
            f"no recommender named {chosen!r}; loaded: {sorted(snap.recommenders)}",
        )
    return rec
