"""Operations: reload models, feedback status (API key), health, readiness and metrics (open)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from shopml import capabilities
from shopml.serve import monitoring
from shopml.serve.auth import require_read_key, require_write_key
from shopml.serve.deps import get_state
from shopml.serve.errors import ApiError
from shopml.serve.schemas import Health, Readiness, ReloadResult, errors
from shopml.serve.state import ServeState

router = APIRouter(
    prefix="/v1/admin",
    tags=["admin"],
    dependencies=[Depends(require_write_key)],
    responses=errors(401, 403, 503),
)
health = APIRouter(tags=["health"])
monitor = APIRouter(prefix="/v1", tags=["monitoring"], dependencies=[Depends(require_read_key)])


@router.post("/reload", response_model=ReloadResult, summary="Load the registry's latest versions")
async def reload(state: ServeState = Depends(get_state)) -> ReloadResult:
    """Build a new snapshot of the latest versions and swap it in; requests in flight finish on
    the old one. Every worker process follows within a second."""
    t0 = time.perf_counter()
    try:
        previous, current = await run_in_threadpool(state.reload)
    except Exception as exc:  # noqa: BLE001 - the old snapshot keeps serving
        raise ApiError(
            503, "reload_failed", f"reload failed, still serving the previous versions: {exc}"
        ) from exc
    before = previous.versions() if previous is not None else {}
    return ReloadResult(
        changed=before != current.versions(),
        previous=before,
        current=current.versions(),
        errors=list(current.errors),
        seconds=round(time.perf_counter() - t0, 4),
        generation=current.generation,
    )


@router.get("/feedback", summary="Feedback pipeline status")
def feedback_status(state: ServeState = Depends(get_state)) -> dict:
    """This process's role and counters, and the overlay size."""
    fb = state.feedback
    return {
        "writer": fb.is_writer,
        "log": fb.log.name,
        "overlay_keys": len(state.overlay),
        "stats": {k: v for k, v in vars(fb.stats).items() if k != "extra"},
    }


_OK = b'{"status":"ok"}'


@health.get("/healthz", response_model=Health, summary="The process is up")
async def healthz() -> Response:
    # answered on the event loop with pre-encoded bytes: a liveness probe should cost nothing
    return Response(_OK, media_type="application/json")


@health.get(
    "/readyz",
    response_model=Readiness,
    summary="Models are loaded",
    responses={503: {"model": Readiness, "description": "Not ready"}},
)
async def readyz(state: ServeState = Depends(get_state)):
    snap = state.snapshot
    body = Readiness(
        ready=bool(snap is not None and snap.ready),
        models=snap.versions() if snap is not None else {},
        capabilities={
            name: sorted(snap.served(name)) if snap is not None else []
            for name in capabilities.specs()
        },
        errors=list(snap.errors) if snap is not None else ["models not loaded yet"],
        generation=snap.generation if snap is not None else 0,
        feedback_writer=state.feedback.is_writer,
    )
    if not body.ready and snap is not None and not body.errors:
        body.errors = ["no model in the registry; train one and POST /v1/admin/reload"]
    return JSONResponse(body.model_dump(), status_code=200 if body.ready else 503)


@monitor.get("/monitoring", summary="What the served models' monitors measured")
def monitoring_report(state: ServeState = Depends(get_state)) -> list[dict]:
    """Per served model: the monitors its capability declares, input drift per feature and
    score drift against the training snapshot (PSI; below 0.1 stable, above 0.25 a major
    shift), and realised quality and cost on outcomes that arrived after training."""
    return monitoring.report(state.snapshot)


@health.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics(request: Request) -> Response:
    m = request.app.state.metrics
    return Response(m.render(), media_type=m.content_type)
