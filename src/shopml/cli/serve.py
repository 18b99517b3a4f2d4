"""`shopml serve`: the API and dashboard."""

from __future__ import annotations

from pathlib import Path

import typer

from shopml.cli.app import REGISTRY_OPT, WORKSPACE_OPT, app, err, fail, say
from shopml.core.errors import ShopMLError


@app.command()
def serve(
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    host: str = typer.Option("127.0.0.1", help="Address to listen on."),
    port: int = typer.Option(8000, help="Port."),
    workers: int = typer.Option(1, help="Worker processes (they share the durable feedback log)."),
    api_key: str | None = typer.Option(None, envvar="SHOPML_API_KEY", help="Key for write and admin endpoints (X-API-Key); without one they are disabled."),
    read_key: str | None = typer.Option(None, envvar="SHOPML_READ_KEY", help="Key also required by read endpoints."),
    recommender: str | None = typer.Option(None, help="Default recommender (default: the latest registered)."),
    max_body: int = typer.Option(1_048_576, help="Largest request body in bytes (larger: 413)."),
    bench_dir: Path = typer.Option(Path("bench/results"), help="Benchmark results shown as the dashboard's leaderboards (ignored if absent)."),
) -> None:
    """Serve the registry's models over the workspace: API at /v1, dashboard at /dashboard/, docs at /docs, metrics at /metrics."""
    from shopml.serve.app import run
    from shopml.serve.settings import ServeSettings

    if not workspace.exists():
        fail(FileNotFoundError(f"no workspace at {workspace}"))
    if workers < 1:
        fail(ValueError(f"--workers must be at least 1, got {workers}"))
    try:
        settings = ServeSettings(
            workspace.resolve(), registry.resolve(), api_key, read_key, recommender, max_body,
            bench_dir=bench_dir.resolve() if bench_dir.is_dir() else None,
        )
    except ShopMLError as exc:
        fail(exc)
    if api_key is None:
        err.print("note: no --api-key: feedback and admin endpoints are disabled")
    say.print(f"serving {workspace} with models from {registry} on http://{host}:{port} (dashboard: /dashboard/, docs: /docs)")
    run(settings, host=host, port=port, workers=workers)
