"""Dependencies shared by the routers: the state, the current snapshot, the chosen model."""

from __future__ import annotations

from fastapi import Request

from shopml.serve.errors import ApiError
from shopml.serve.state import Loaded, LoadedRecommender, ServeState, Snapshot


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


def served_model(snap: Snapshot, capability: str, name: str | None = None) -> Loaded:
    """The named model of a capability, or its default one (503 when none is loaded, 404 for
    an unknown name)."""
    models = snap.served(capability)
    if not models:
        raise ApiError(
            503,
            "no_model",
            f"no {capability} model is loaded; train one (`shopml train {capability}`) and "
            "POST /v1/admin/reload",
        )
    chosen = name or snap.defaults.get(capability)
    found = models.get(chosen) if chosen else None
    if found is None:
        raise ApiError(
            404, "unknown_model", f"no {capability} model named {chosen!r}; loaded: {sorted(models)}"
        )
    return found
