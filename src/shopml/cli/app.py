"""The ``shopml`` Typer app, its consoles and the options every command group shares."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

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


def fail(exc: Exception) -> None:
    """Print ``exc`` as a one-line error and exit with status 2 (no traceback for user errors)."""
    err.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


REGISTRY_OPT = typer.Option(Path("artifacts"), "--registry", "-r", help="Model registry folder.")

# `shopml train <capability>`: each capability's module adds its command here.
train_app = typer.Typer(help="Train a model on a workspace and register it.", no_args_is_help=True)
app.add_typer(train_app, name="train")
