"""`shopml demo`: the main job, end to end."""

from __future__ import annotations

from pathlib import Path

import typer

from shopml.cli.app import app, console
from shopml.cli.data import _print_info, _report_table


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
