"""`shopml run PIPELINE.yaml` and `shopml report --run RUN_ID`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table as RichTable

from shopml.cli.app import REGISTRY_OPT, app, console, err, fail, say
from shopml.core.errors import ShopMLError


@app.command("run")
def run_cmd(
    pipeline: Path = typer.Argument(..., help="Pipeline YAML (see examples/pipelines/)."),
    no_cache: bool = typer.Option(False, "--no-cache", help="Run every step even if its config and data are unchanged."),
    report: Path | None = typer.Option(None, help="Write the HTML report here (overrides the file's report:)."),
    check: bool = typer.Option(False, "--check", help="Only validate the file."),
) -> None:
    """Run a declarative pipeline: data in, train, evaluate against baselines, register, report."""
    from shopml.pipeline import load_pipeline, run_pipeline

    try:
        cfg = load_pipeline(pipeline)
    except ShopMLError as exc:
        fail(exc)
    if check:
        say.print(f"{pipeline}: valid ({', '.join(cfg.step_configs())})")
        return
    if report is not None:
        cfg = cfg.model_copy(update={"report": report})
    try:
        record = run_pipeline(cfg, source_text=pipeline.read_text(encoding="utf-8"), use_cache=not no_cache, console=err)
    except ShopMLError as exc:
        fail(exc)
    print_summary(record)
    if any(s["status"] == "failed" for s in record["steps"]):
        raise typer.Exit(code=1)


@app.command("report")
def report_cmd(
    run: str = typer.Option(..., "--run", help="Run id: PIPELINE/vNNNN, or PIPELINE for its latest run."),
    registry: Path = REGISTRY_OPT,
    out: Path | None = typer.Option(None, "--out", "-o", help="HTML file (default: reports/<pipeline>-<version>.html)."),
) -> None:
    """Write one self-contained HTML report of a stored run (opens offline in any browser)."""
    from shopml.evaluation.report import write_report
    from shopml.pipeline import load_run

    try:
        record = load_run(registry, run)
        path = out or Path("reports") / (record["run_id"].replace("/", "-") + ".html")
        write_report(record, path)
    except ShopMLError as exc:
        fail(exc)
    say.print(f"report of run {record['run_id']} written to {path}")


def print_summary(record: dict[str, Any]) -> None:
    """The run's steps as one table, then registered versions, reasons, and where the report is."""
    from shopml.evaluation.report import summary_rows

    t = RichTable(
        title=f"run {record['run_id']} ({record['seconds']:.0f} s); ↑ higher is better, ↓ lower; "
        "oracle: a model that knows the simulator's true parameters"
    )
    level = 100 * record["config"].get("evaluate", {}).get("level", 0.95)
    columns = ("step", "best model", "metric", f"value [{level:g}% CI]", "best baseline",
               f"best - baseline [{level:g}% paired CI]", "oracle")
    for c in columns:
        t.add_column(c, justify="left" if c in columns[:3] else "right")
    lines = []
    for r in summary_rows(record):
        if r["status"] in ("skipped", "failed"):
            style = "yellow" if r["status"] == "skipped" else "red"
            t.add_row(f"{r['step']} [{style}]{r['status']}[/]", "", "", "", "", "", "")
            lines.append(f"{r['step']} {r['status']}: {r.get('reason') or ''}")
            continue
        lines += [f"{r['step']}: registered {v}" for v in r.get("registered", [])]
        if not r.get("evaluated"):
            t.add_row(f"{r['step']} ({r['status']})", "not evaluated", "", "", "", "", "")
            continue
        ci = r.get("ci")
        value = ""
        if r.get("value") is not None:
            value = f"{r['value']:.4f}" + (f" [{ci[0]:.4f}, {ci[1]:.4f}]" if ci else "")
        base = f"{r['baseline']} {r['baseline_value']:.4f}" if r.get("baseline") else ""
        arrow = "↑" if r.get("higher_is_better", True) else "↓"
        diff = ""
        if r.get("diff") is not None:
            dci = r.get("diff_ci")
            unit = f" ({r['diff_metric']})" if r.get("diff_metric") not in (None, r.get("metric")) else ""
            diff = f"{r['diff']:+.4f}" + (f" [{dci[0]:+.4f}, {dci[1]:+.4f}]" if dci else "") + unit
        oracle = f"{r['oracle_value']:.4f}" if r.get("oracle_value") is not None else ""
        step = r["step"] if r["status"] == "ok" else f"{r['step']} ({r['status']})"
        t.add_row(step, r.get("model", ""), f"{r.get('metric', '')} {arrow}",
                  value, base, diff, oracle)
    console.print(t)
    for line in lines:
        say.print(line)
    if record.get("report"):
        say.print(f"report: {record['report']}")
    else:
        say.print(f"report: shopml report --run {record['run_id']} -r {record['config']['registry']}")
