"""`shopml bench CAPABILITY`: run a benchmark suite and write its results."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from shopml.cli.app import app, console, fail, parse_options
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
    data: Path | None = typer.Option(None, "--data", help="A file or folder of your own (text, support, vision suites): the same models and metrics as on a named dataset."),
    test: Path | None = typer.Option(None, "--test", help="With --data: the test file or folder (default: a stratified split of --data)."),
    options: str | None = typer.Option(None, "--options", help="Suite-specific options as k=v,... or JSON (e.g. bandits: campaign=men)."),
    protocol: str | None = typer.Option(None, "--protocol", help="recommend --workspace: temporal (per-user split in time) or session (next item within the sessions of the last days, full ranking); default: session when the events are anonymous sessions, else temporal."),
) -> None:
    """Run a capability's benchmark suite; writes JSON + Markdown (default bench/results/)."""
    from shopml.benchmarks.engine import run_suite
    from shopml.benchmarks.runner import get_suite

    if sum(x is not None for x in (dataset, workspace, data)) != 1:
        fail(ValueError("give exactly one of --dataset, --workspace or --data"))
    if test is not None and data is None:
        fail(ValueError("--test goes with --data"))
    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    try:
        run = get_suite(capability)
        kwargs = {"task": task} if task else {}
        import inspect

        if models:
            if "models" not in inspect.signature(run).parameters:
                raise ShopMLError(f"the {capability} suite does not take --models")
            kwargs["models"] = [m.strip() for m in models.split(",") if m.strip()]
        if protocol is not None:
            if "protocol" not in inspect.signature(run).parameters:
                raise ShopMLError(f"the {capability} suite does not take --protocol")
            kwargs["protocol"] = protocol
        extra = parse_options(options, "options")
        if data is not None:
            if "data" not in inspect.signature(run).parameters:
                raise ShopMLError(f"the {capability} suite does not take --data")
            extra.update({"data": str(data)} | ({"test": str(test)} if test else {}))
        clash = sorted(set(extra) & (set(kwargs) | {"dataset", "workspace", "quick"}))
        if clash:
            raise ShopMLError(f"--options repeats {clash}: use the command's own flags")
        result = run_suite(capability, engine, address, dataset=dataset, workspace=workspace, quick=quick, **kwargs, **extra)
    except ShopMLError as exc:
        fail(exc)
    label = "_".join(filter(None, [capability, task, dataset or Path(str(workspace or data)).stem,
                                   "session" if protocol == "session" else None]))
    out = out or Path("bench/results") / f"{label}{'_quick' if quick else ''}.json"
    result.write(out)
    console.print(result.markdown())
    console.print(f"wrote {out} and {out.with_suffix('.md')}")
