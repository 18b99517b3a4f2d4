"""The ``shopml`` command."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table as RichTable

from shopml.core.errors import ShopMLError

app = typer.Typer(
    name="shopml",
    help="Turn a shop's own data into decision models: ingest, simulate, benchmark, train, serve.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
say = Console(soft_wrap=True)  # plain messages: never wrapped mid-word
err = Console(stderr=True, soft_wrap=True)

WORKSPACE_OPT = typer.Option("shopml.duckdb", "--workspace", "-w", help="Workspace DuckDB file.")


def _fail(exc: Exception) -> None:
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


def _report_table(reports) -> RichTable:
    t = RichTable(title="ingest")
    for c in ("source", "table", "read", "accepted", "quarantined", "seconds", "note"):
        t.add_column(c, justify="right" if c in ("read", "accepted", "quarantined", "seconds") else "left")
    for r in reports:
        note = "skipped" if r.skipped else ", ".join(
            f"{k}: {v}" for k, v in sorted(r.reasons.items(), key=lambda kv: -kv[1])[:3]
        )
        if r.derived:
            note = (note + "; " if note else "") + "derived " + ", ".join(f"{k} {v}" for k, v in r.derived.items())
        t.add_row(r.source, r.table, f"{r.rows_read:,}", f"{r.rows_accepted:,}", f"{r.rows_quarantined:,}", f"{r.seconds:.2f}", note)
    return t


@app.command()
def datasets(
    download: str | None = typer.Option(None, help="Download this dataset's files (needs internet)."),
) -> None:
    """List the named loaders and whether their files are in the data directory ($SHOPML_DATA_DIR)."""
    from shopml.data.loaders import LOADERS, data_dir, get_loader

    if download:
        try:
            path = get_loader(download).download()
        except ShopMLError as exc:
            _fail(exc)
        console.print(f"downloaded {download} to {path}")
        return
    t = RichTable(title=f"datasets (data directory: {data_dir()})")
    for c in ("name", "folder", "found", "description"):
        t.add_column(c)
    for name, ld in LOADERS.items():
        t.add_row(name, ld.folder, "[green]yes[/]" if ld.found() else "[red]no[/]", ld.description)
    t.add_row("generic", "-", "-", "any CSV/TSV/Parquet: shopml ingest generic FILE --table T --map canon=source,...")
    console.print(t)


@app.command()
def ingest(
    name: str = typer.Argument(..., help="A dataset name from `shopml datasets`, or 'generic'."),
    path: Path | None = typer.Argument(None, help="Dataset folder (named loaders; default: data directory) or FILE (generic)."),
    workspace: Path = WORKSPACE_OPT,
    table: str | None = typer.Option(None, help="generic: target table (events, orders, items, ...)."),
    map: str | None = typer.Option(None, "--map", help="generic: canonical=source column pairs, comma-separated."),
    default: str | None = typer.Option(None, help="generic: constants for unmapped columns, e.g. event_type=view."),
    ts_unit: str | None = typer.Option(None, help="generic: time columns are Unix seconds (s) or milliseconds (ms)."),
    ts_format: str | None = typer.Option(None, help="generic: strptime format of time columns."),
    sep: str | None = typer.Option(None, help="generic: field separator (default: sniffed); '\\t' for tabs."),
    force: bool = typer.Option(False, help="Ingest again even if the same content was ingested before."),
) -> None:
    """Ingest a named dataset or any file into the workspace; bad rows go to quarantine with a reason."""
    from shopml.data import Workspace
    from shopml.data.loaders.generic import generic_source, parse_mapping

    try:
        with Workspace(workspace) as ws:
            if name == "generic":
                if path is None or table is None or map is None:
                    raise typer.BadParameter("generic needs FILE, --table and --map")
                if sep is not None:
                    sep = sep.encode().decode("unicode_escape")
                src = generic_source(
                    path, table, parse_mapping(map), parse_mapping(default) if default else None,
                    ts_unit=ts_unit, ts_format=ts_format, sep=sep,
                )
                reports = ws.ingest(src, force=force)
            else:
                reports = ws.ingest_dataset(name, path, force=force)
    except ShopMLError as exc:
        _fail(exc)
    _print_reports(reports)


def _print_reports(reports) -> None:
    console.print(_report_table(reports))
    for r in reports:
        if r.skipped:
            say.print(f"{r.source}: already ingested (same content), nothing added; --force ingests again")


@app.command()
def info(
    workspace: Path = WORKSPACE_OPT,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
) -> None:
    """Row counts per table, time ranges, quarantine counts per reason, ingest history."""
    from shopml.data import Workspace

    if not workspace.exists():
        _fail(FileNotFoundError(f"no workspace at {workspace}"))
    try:
        with Workspace(workspace, read_only=True) as ws:
            data = ws.info()
    except ShopMLError as exc:
        _fail(exc)
    if as_json:
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")
        return
    _print_info(data)


def _print_info(data: dict) -> None:
    t = RichTable(title=f"workspace {data['workspace']}")
    for c in ("table", "rows", "from", "to"):
        t.add_column(c, justify="right" if c == "rows" else "left")
    for name, e in data["tables"].items():
        lo, hi = e.get("time_range", ["", ""])
        t.add_row(name, f"{e['rows']:,}", lo, hi)
    console.print(t)
    q = data["quarantine"]
    if q["rows"]:
        qt = RichTable(title=f"quarantine ({q['rows']:,} rows)")
        for c in ("table", "reason", "rows"):
            qt.add_column(c)
        for tname, reasons in q["by_reason"].items():
            for r, n in reasons.items():
                qt.add_row(tname, r, f"{n:,}")
        console.print(qt)


@app.command()
def simulate(
    workspace: Path = WORKSPACE_OPT,
    users: int = typer.Option(10_000, help="Number of customers."),
    items: int = typer.Option(1_000, help="Number of products."),
    days: int = typer.Option(180, help="Days of history."),
    seed: int = typer.Option(42, help="Random seed (runs are deterministic)."),
    truth: Path | None = typer.Option(None, help="Also save the simulator's ground truth here (.npz)."),
) -> None:
    """Simulate a shop (documented generative model) straight into a workspace."""
    from shopml.data import Workspace
    from shopml.data.synth import SimConfig
    from shopml.data.synth import simulate as run_sim

    with console.status("simulating"):
        result = run_sim(SimConfig(n_users=users, n_items=items, days=days, seed=seed))
    with Workspace(workspace) as ws:
        reports = result.write(ws)
        if truth:
            result.save_truth(truth)
        console.print(_report_table(reports))


@app.command()
def bench(
    capability: str = typer.Argument(..., help="recommend, predict, search, ..."),
    dataset: str | None = typer.Option(None, help="A named dataset (see `shopml datasets`)."),
    workspace: Path | None = typer.Option(None, help="Benchmark on an already ingested workspace instead."),
    data_dir: Path | None = typer.Option(None, help="Data directory (default $SHOPML_DATA_DIR or ../shared/data)."),
    out: Path | None = typer.Option(None, help="Result JSON (a Markdown table is written next to it)."),
    quick: bool = typer.Option(False, help="A fast, smaller run (smoke test, not for reporting)."),
    task: str | None = typer.Option(None, help="The task, for capabilities with several (predict: clv, ...)."),
) -> None:
    """Run a capability's benchmark suite; writes JSON + Markdown (default bench/results/)."""
    from shopml.benchmarks.runner import get_suite

    if (dataset is None) == (workspace is None):
        _fail(ValueError("give exactly one of --dataset or --workspace"))
    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    try:
        run = get_suite(capability)
        kwargs = {"task": task} if task else {}
        result = run(dataset=dataset, workspace=workspace, quick=quick, **kwargs)
    except ShopMLError as exc:
        _fail(exc)
    label = "_".join(filter(None, [capability, task, dataset or Path(str(workspace)).stem]))
    out = out or Path("bench/results") / f"{label}{'_quick' if quick else ''}.json"
    result.write(out)
    console.print(result.markdown())
    console.print(f"wrote {out} and {out.with_suffix('.md')}")


@app.command()
def demo(
    workspace: Path = typer.Option(Path("workspaces/demo.duckdb"), help="Workspace to create."),
    users: int = typer.Option(5_000, help="Simulated customers."),
    items: int = typer.Option(500, help="Simulated products."),
    days: int = typer.Option(120, help="Days of simulated history."),
    seed: int = typer.Option(7),
) -> None:
    """The main job: simulate a shop, ingest it, and show what is in the workspace."""
    from shopml.data import Workspace
    from shopml.data.synth import SimConfig
    from shopml.data.synth import simulate as run_sim

    if workspace.exists():
        workspace.unlink()
    console.rule("[bold]shopml demo")
    with console.status("simulating a shop"):
        result = run_sim(SimConfig(n_users=users, n_items=items, days=days, seed=seed))
    with Workspace(workspace) as ws:
        console.print(_report_table(result.write(ws)))
        _print_info(ws.info())
    console.print(f"workspace written to [bold]{workspace}[/]; inspect it with `shopml info -w {workspace}`")


REGISTRY_OPT = typer.Option(Path("artifacts"), "--registry", "-r", help="Model registry folder.")

train_app = typer.Typer(help="Train a model on a workspace and register it.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("recommend")
def train_recommend(
    model: str = typer.Option("ease", "--model", "-m", help="Recommender: popularity, itemknn, userknn, als, ease, bpr, neumf, sasrec, two-tower."),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    params: str | None = typer.Option(None, help="Hyper-parameters as k=v,... (e.g. l2=200)."),
    source: str = typer.Option("auto", help="Interactions: events, orders, or auto (events if any)."),
) -> None:
    """Fit a recommender on the workspace's interactions and register it as recommend/<model>."""
    from shopml.recommend.train import parse_params, train_and_register

    try:
        with console.status(f"training {model}"):
            mv = train_and_register(workspace, registry, model, parse_params(params), source=source)
    except ShopMLError as exc:
        _fail(exc)
    cfg = mv.meta.get("config", {})
    say.print(
        f"registered recommend/{model} {mv.version} at {mv.path}: {cfg.get('n_users')} users, "
        f"{cfg.get('n_items')} items, {cfg.get('n_interactions')} interactions from {cfg.get('source')} "
        f"(fit {mv.meta.get('metrics', {}).get('fit_seconds')} s)"
    )


@app.command("recommend")
def recommend_cmd(
    user_id: str = typer.Argument(..., help="The user to recommend for."),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    k: int = typer.Option(10, "--k", "-k", help="How many items."),
    model: str | None = typer.Option(None, "--model", "-m", help="Registered recommender (default: the latest registered)."),
) -> None:
    """Print a user's top-k items from the registry's latest model, with titles and reasons."""
    from shopml.data import Workspace
    from shopml.recommend.base import Recommender
    from shopml.registry import Registry

    try:
        reg = Registry(registry)
        if model is None:
            recs = [m for m in reg.list() if m.capability == "recommend"]
            if not recs:
                raise ShopMLError(f"no recommender in registry {registry}; run `shopml train recommend` first")
            mv = max(recs, key=lambda m: m.created or "")
        else:
            mv = reg.latest("recommend", model)
        rec = Recommender.load(reg.verify(mv).path)
        if k < 1:
            raise ShopMLError(f"--k must be at least 1, got {k}")
        known = user_id in rec.users_
        frame = rec.recommend([user_id], k=k, unknown="popular")
        titles = {}
        if workspace.exists():
            with Workspace(workspace, read_only=True) as ws:
                items = ws.df("items", columns=["item_id", "title"])
            titles = dict(zip(items["item_id"], items["title"], strict=True))
    except ShopMLError as exc:
        _fail(exc)
    t = RichTable(title=f"{user_id}: {mv.name} {mv.version}" + ("" if known else " (unknown user: most popular items)"))
    for c in ("rank", "item", "title", "score", "because of"):
        t.add_column(c, justify="right" if c in ("rank", "score") else "left")
    for row in frame.itertuples(index=False):
        reasons = rec.explain(user_id, row.item_id, n=2) if known else []
        because = "; ".join(f"{titles.get(r['because_of'], r['because_of'])} ({r['similarity']:.2f})" for r in reasons)
        t.add_row(str(row.rank), str(row.item_id), str(titles.get(row.item_id, "")), f"{row.score:.4g}", because)
    console.print(t)


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
) -> None:
    """Serve the registry's models over the workspace: API at /v1, docs at /docs, metrics at /metrics."""
    from shopml.serve.app import run
    from shopml.serve.settings import ServeSettings

    if not workspace.exists():
        _fail(FileNotFoundError(f"no workspace at {workspace}"))
    if workers < 1:
        _fail(ValueError(f"--workers must be at least 1, got {workers}"))
    try:
        settings = ServeSettings(workspace.resolve(), registry.resolve(), api_key, read_key, recommender, max_body)
    except ShopMLError as exc:
        _fail(exc)
    if api_key is None:
        err.print("note: no --api-key: feedback and admin endpoints are disabled")
    say.print(f"serving {workspace} with models from {registry} on http://{host}:{port} (docs: /docs)")
    run(settings, host=host, port=port, workers=workers)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
