"""The FastAPI application: ``create_app(workspace, registry)``; ``shopml serve`` runs it.

Routers per registered capability (:mod:`shopml.capabilities`), feedback, admin, health
and readiness, Prometheus ``/metrics``, OpenAPI at ``/docs``. Middleware, outermost first:
metrics (every request, by route template), body size limit (413). See :mod:`shopml.serve.state`
for reloads and :mod:`shopml.serve.feedback` for durable feedback.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.supervisors import Multiprocess

from shopml import __version__, capabilities
from shopml.core.errors import ShopMLError
from shopml.serve.errors import install_error_handlers
from shopml.serve.limits import BodySizeLimitMiddleware
from shopml.serve.metrics import MetricsMiddleware, ServeMetrics
from shopml.serve.routers import admin, dashboard, feedback, overview
from shopml.serve.settings import ServeSettings
from shopml.serve.state import ServeState

log = logging.getLogger("shopml.serve")
#: how long uvicorn's supervisor waits for a worker's answer before killing it (uvicorn's 5 s
#: default kills a worker that is still loading its models on a busy machine, then restarts it,
#: forever: measured on 2 shared cores at load 14, two workers never became ready; 60 s: ready in 33 s)
WORKER_HEALTHCHECK_S = 60

DESCRIPTION = """
Decision models of a shop, served from one workspace and one model registry.

* **Read endpoints** (recommendations, similar items, CLV, search) need the read key in
  `X-API-Key` only if the server was started with one.
* **Write and admin endpoints** (feedback, reload) need the API key in `X-API-Key`.
* **Feedback** (`POST /v1/feedback`) is acknowledged (202) once synced to disk in the workspace's
  feedback log; it reaches the workspace's `events` table within about a second, exactly once
  per `event_id` (`?wait=true` answers 200 once it is there), and changes the user's next
  recommendations at once.
* Errors are `{"error": code, "message": ...}`; bad input is a 4xx whose message says what is wrong.
* The **dashboard** at `/dashboard/` draws on the read-only `/v1/overview`, `/v1/leaderboards`,
  `/v1/customers/{user_id}` and `/v1/items/{item_id}`; it and these docs load nothing from the internet.
"""


def create_app(
    workspace_path: str | Path,
    registry_root: str | Path,
    api_key: str | None = None,
    read_key: str | None = None,
    **options: Any,
) -> FastAPI:
    """The service over a workspace (DuckDB file) and a model registry folder.

    ``options`` are further :class:`ServeSettings` fields (``max_body_bytes``,
    ``default_recommender``, ``pump_interval_s``, ...). Models load when the app starts
    (its lifespan: ``with TestClient(app)`` or uvicorn).
    """
    settings = ServeSettings(
        Path(workspace_path), Path(registry_root), api_key, read_key, **options
    )
    return build_app(settings)


def build_app(settings: ServeSettings) -> FastAPI:
    """The app for explicit settings."""
    metrics = ServeMetrics()
    state = ServeState(settings, metrics)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state.start()
        try:
            yield
        finally:
            state.stop()
            batcher = getattr(app.state, "search_batcher", None)
            if batcher is not None:  # the search thread of this worker
                batcher.close()
                app.state.search_batcher = None  # a restarted app makes a new one

    app = FastAPI(
        title="shopml",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        docs_url=None,  # served offline by the dashboard router
        redoc_url=None,
    )
    app.state.settings = settings
    app.state.serve = state
    app.state.metrics = metrics
    install_error_handlers(app)
    app.include_router(admin.health)
    app.include_router(admin.monitor)
    for spec in capabilities.specs().values():  # one router per capability, from its spec
        if spec.router is None:
            continue
        try:
            app.include_router(spec.part("router"))
        except ShopMLError as exc:  # an optional extra is missing: the rest is served
            log.warning("capability %s has no API here: %s", spec.name, exc)
    app.include_router(feedback.router)
    app.include_router(admin.router)
    app.include_router(overview.router)
    app.include_router(dashboard.router)
    dashboard.mount_static(app)
    # added last = outermost: metrics also count the 413s of the size limit
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    return app


def app_from_env() -> FastAPI:
    """App factory for uvicorn workers (settings from ``SHOPML_SERVE_*`` variables)."""
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"
    )
    return build_app(ServeSettings.from_env())


def run(
    settings: ServeSettings,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
) -> None:
    """Run the service with uvicorn (several workers share the feedback log folder and the writer)."""
    os.environ.update(settings.to_env())
    kwargs: dict[str, Any] = dict(
        factory=True, host=host, port=port, workers=workers, log_level=log_level, access_log=False
    )
    if workers > 1:
        kwargs["timeout_worker_healthcheck"] = WORKER_HEALTHCHECK_S
    if workers == 1:
        uvicorn.run("shopml.serve.app:app_from_env", **kwargs)
        return
    config = TCPConfig("shopml.serve.app:app_from_env", **kwargs)
    Multiprocess(config, sockets=[config.bind_socket()]).run()


class TCPConfig(uvicorn.Config):
    """uvicorn's config whose shared listener (``--workers N``) says it is TCP.

    uvicorn binds that listener with ``proto`` 0; accepted connections inherit it and asyncio
    then leaves Nagle's algorithm on, so every keep-alive request after the first waits ~40 ms
    for a delayed ACK (uvicorn issue #3149; measured here: 48 ms instead of 1.9 ms per request).
    Rebuilding the socket object with ``IPPROTO_TCP`` lets asyncio set ``TCP_NODELAY`` on every
    connection, as it does with one worker.
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, socket.SOCK_STREAM, socket.IPPROTO_TCP, sock.detach())
            sock.set_inheritable(True)
        return sock
