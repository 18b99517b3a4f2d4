"""`shopml bench CAPABILITY`: run a benchmark suite and write its results."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from shopml.cli.app import app, console, fail
from shopml.core.errors import ShopMLError


@app.command()
def bench(
    capability: str = typer.Argument(..., help="recommend, predict, search, ..."),
    dataset: str | None = typer.Option(None, help="A named dataset (see `shopml datasets`)."),
    workspace: Path | None = typer.Option(None, help="Benchmark on an already ingested workspace instead."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default $SHOPML_DATA_DIR or ../shared/data)."),
    out: Path | None = typer.Option(None, help="Result JSON (a Markdown table is written next to it)."),
    quick: bool = typer.Option(False, help="A fast, smaller run (smoke test, not for reporting)."),
    task: str | None = typer.Option(None, help="The task, for capabilities with several (predict: clv, ...)."),
    models: str | None = typer.Option(None, help="Comma-separated models to run (suites that support it; default: all)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray: the whole suite runs as one Ray task on a cluster node (same seeds, same metrics; that node's timings); paths must be readable there."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster to join (e.g. ray://head:10001, head:6379, auto); default: start a local Ray."),
) -> None:
    """Run a capability's benchmark suite; writes JSON + Markdown (default bench/results/)."""
    from shopml.benchmarks.runner import get_suite
    from shopml.distributed.bench import run_suite

    if (dataset is None) == (workspace is None):
        fail(ValueError("give exactly one of --dataset or --workspace"))
    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    try:
        run = get_suite(capability)
        kwargs = {"task": task} if task else {}
        if models:
            import inspect

            if "models" not in inspect.signature(run).parameters:
                raise ShopMLError(f"the {capability} suite does not take --models")
            kwargs["models"] = [m.strip() for m in models.split(",") if m.strip()]
        result = run_suite(capability, engine, address, dataset=dataset, workspace=workspace, quick=quick, **kwargs)
    except ShopMLError as exc:
        fail(exc)
    label = "_".join(filter(None, [capability, task, dataset or Path(str(workspace)).stem]))
    out = out or Path("bench/results") / f"{label}{'_quick' if quick else ''}.json"
    result.write(out)
    console.print(result.markdown())
    console.print(f"wrote {out} and {out.with_suffix('.md')}")
