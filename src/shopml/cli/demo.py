"""`shopml demo`: the whole product in one command (the README's `make demo`).

Simulates a shop (or ingests ``--dataset NAME``), runs the demo pipeline
(``shopml/pipeline/demo.yaml``: every capability that exists, each judged against its baselines
on data after its training period), registers the best models, writes the HTML report, prints a
summary and how to start the service. Re-running with the same settings reuses every unchanged
step; ``--fresh`` starts from scratch.
"""

from __future__ import annotations

import time
from importlib import resources
from pathlib import Path

import typer
import yaml

from shopml.cli.app import app, console, err, fail, say
from shopml.core.errors import ShopMLError


@app.command()
def demo(
    dataset: str | None = typer.Option(None, help="Use this named dataset (see `shopml datasets`) instead of the simulator."),
    workspace: Path | None = typer.Option(None, "--workspace", "-w", help="Workspace (default: workspaces/demo.duckdb, or demo-DATASET.duckdb)."),
    registry: Path = typer.Option(Path("artifacts"), "--registry", "-r", help="Model registry folder."),
    report: Path | None = typer.Option(None, help="HTML report (default: reports/demo.html, or demo-DATASET.html)."),
    users: int = typer.Option(8_000, help="Simulated customers."),
    items: int = typer.Option(800, help="Simulated products."),
    days: int = typer.Option(180, help="Days of simulated history."),
    seed: int = typer.Option(7, help="Simulator seed."),
    quick: bool = typer.Option(False, help="A small shop and the fast models only (a smoke test, about a minute)."),
    fresh: bool = typer.Option(False, help="Recreate the workspace and run every step again."),
) -> None:
    """Simulate a shop, train every capability, evaluate against baselines, register, report."""
    from shopml.cli.pipeline import print_summary
    from shopml.pipeline import parse_pipeline, run_pipeline
    from shopml.pipeline.runner import simulation_tag, simulations_in

    doc = yaml.safe_load(resources.files("shopml.pipeline").joinpath("demo.yaml").read_text(encoding="utf-8"))
    suffix = f"-{dataset}" if dataset else ""
    doc["workspace"] = str(workspace or Path("workspaces") / f"demo{suffix}.duckdb")
    doc["registry"] = str(registry)
    doc["report"] = str(report or Path("reports") / f"demo{suffix}.html")
    if dataset:
        doc["name"] = f"demo{suffix}"
        doc["data"] = {"dataset": dataset}
    else:
        doc["data"]["simulate"].update(users=users, items=items, days=days, seed=seed)
    if quick:
        doc["data"].get("simulate", {}).update(users=min(users, 1500), items=min(items, 200), days=min(days, 150))
        rec = doc["train"]["recommend"]
        rec["models"] = [m for m in rec["models"] if (m if isinstance(m, str) else m["name"]) in ("itemknn", "ease", "als")]
        doc["train"]["search"]["encoder"] = None
        doc["evaluate"]["bootstrap"] = 200
    text = yaml.safe_dump(doc, sort_keys=False)
    try:
        cfg = parse_pipeline(text, "demo pipeline")
        ws_path = Path(cfg.workspace)
        # the demo owns its workspace: a different simulation in it is replaced, not mixed in
        if fresh or (cfg.data.simulate is not None and set(simulations_in(ws_path)) - {simulation_tag(cfg.data.simulate)}):
            ws_path.unlink(missing_ok=True)
        if cfg.data.simulate is not None:
            _save_truth(cfg, ws_path)
        console.rule("[bold]shopml demo")
        source = f"dataset {dataset}" if dataset else (
            f"a simulated shop: {cfg.data.simulate.users:,} customers, {cfg.data.simulate.items:,} products, "
            f"{cfg.data.simulate.days} days (seed {cfg.data.simulate.seed})"
        )
        say.print(f"data: {source}; steps: {', '.join(cfg.step_configs())}; workspace {ws_path}, registry {registry}")
        t0 = time.perf_counter()
        record = run_pipeline(cfg, source_text=text, use_cache=not fresh, console=err)
    except ShopMLError as exc:
        fail(exc)
    print_summary(record)
    say.print(f"demo finished in {time.perf_counter() - t0:.0f} s; run id {record['run_id']}")
    say.print(
        f"start the service:  shopml serve -w {ws_path} -r {registry}\n"
        "then open          http://127.0.0.1:8000/docs  (e.g. GET /v1/recommendations/{user_id}, /v1/search?q=..., /v1/predict/clv)"
    )
    if any(s["status"] == "failed" for s in record["steps"]):
        raise typer.Exit(code=1)


def _save_truth(cfg, ws_path: Path) -> None:
    """Keep the simulator's truth beside the workspace (``<name>.truth.npz``) so the steps can
    show an oracle column: the same config simulates the same shop the pipeline ingests."""
    from shopml.data.synth import simulate
    from shopml.data.synth.result import truth_file

    path = truth_file(ws_path)
    if ws_path.exists() and path.exists():
        return
    ws_path.parent.mkdir(parents=True, exist_ok=True)
    simulate(cfg.data.simulate.sim_config()).save_truth(path)
