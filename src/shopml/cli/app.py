"""The ``shopml`` Typer app, its consoles and the options every command group shares."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console

from shopml.core.errors import ValidationError

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


def parse_options(text: str | None, what: str) -> dict:
    """``k=v,k=v`` (values as JSON where they parse, else strings) or a JSON object."""
    if not text:
        return {}
    text = text.strip()
    if text.startswith("{"):
        try:
            out = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationError(f"--{what} is not valid JSON: {exc}") from None
        if not isinstance(out, dict):
            raise ValidationError(f"--{what} must be a JSON object")
        return out
    out = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValidationError(f"--{what}: {part!r} is not key=value")
        k, v = part.split("=", 1)
        try:
            out[k.strip()] = json.loads(v)
        except json.JSONDecodeError:
            out[k.strip()] = v.strip()
    return out


def add_spec_commands(group: typer.Typer, part: str, make: Any) -> None:
    """Add ``make(name)`` as the command ``name`` of ``group`` for every registered capability
    whose spec has ``part`` (``train``, ``batch``) and no command of that name yet."""
    from shopml import capabilities

    taken = {c.name for c in group.registered_commands}
    for spec in capabilities.specs().values():
        if getattr(spec, part) is not None and spec.name not in taken:
            group.command(spec.name)(make(spec.name))
