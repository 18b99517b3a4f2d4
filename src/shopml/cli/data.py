"""`shopml datasets | ingest | info | simulate`: getting data into a workspace."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer
from rich.table import Table as RichTable

from shopml.cli.app import WORKSPACE_OPT, app, console, fail, say
from shopml.core.errors import ShopMLError


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
            fail(exc)
        console.print(f"downloaded {download} to {path}")
        return
    t = RichTable(title=f"datasets (data directory: {data_dir()})")
    for c in ("name", "folder", "found", "description"):
        t.add_column(c)
    for name, ld in LOADERS.items():
        t.add_row(name, ld.folder, "[green]yes[/]" if ld.found() else "[red]no[/]", ld.description)
    t.add_row("generic", "-", "-", "any CSV/TSV/JSON lines/Parquet/Excel file, gzipped or zipped: shopml ingest generic FILE --table T --map canon=source,...")
    console.print(t)


@app.command()
def ingest(
    name: str = typer.Argument(..., help="A dataset name from `shopml datasets`, or 'generic'."),
    path: Path | None = typer.Argument(None, help="Dataset folder (named loaders; default: data directory) or FILE (generic)."),
    workspace: Path = WORKSPACE_OPT,
    table: str | None = typer.Option(None, help="generic: target table (events, orders, items, ...)."),
    map: str | None = typer.Option(None, "--map", help="generic: canonical=source column pairs, comma-separated; attributes.KEY=COLUMN puts a column into the attributes JSON."),
    attributes: str | None = typer.Option(None, help="generic: source columns kept in the attributes JSON under their own names (comma-separated), e.g. Holiday_Flag,Temperature."),
    default: str | None = typer.Option(None, help="generic: constants for unmapped columns, e.g. event_type=view."),
    ts_unit: str | None = typer.Option(None, help="generic: time columns are Unix seconds (s) or milliseconds (ms)."),
    ts_format: str | None = typer.Option(None, help="generic: strptime format of time and date columns, e.g. %d-%m-%Y."),
    sep: str | None = typer.Option(None, help="generic: field separator (default: sniffed); '\\t' for tabs."),
    encoding: str | None = typer.Option(None, help="generic: text encoding (default utf-8; e.g. latin-1)."),
    force: bool = typer.Option(False, help="Ingest again even if the same content was ingested before."),
) -> None:
    """Ingest a named dataset or any file into the workspace; bad rows go to quarantine with a reason.

    A generic file may be CSV/TSV, JSON lines, Parquet or Excel (.xlsx), gzipped or zipped; a malformed line (unbalanced quote, wrong number of fields, bad bytes, truncated) is quarantined with its line number and the rest is ingested.
    """
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
                    ts_unit=ts_unit, ts_format=ts_format, sep=sep, encoding=encoding,
                    attributes=[c.strip() for c in attributes.split(",") if c.strip()] if attributes else None,
                )
                reports = ws.ingest(src, force=force)
            else:
                reports = ws.ingest_dataset(name, path, force=force)
    except ShopMLError as exc:
        fail(exc)
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
        fail(FileNotFoundError(f"no workspace at {workspace}"))
    try:
        with Workspace(workspace, read_only=True) as ws:
            data = ws.info()
    except ShopMLError as exc:
        fail(exc)
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
