"""`shopml train CAPABILITY` for every registered capability without a command of its own:
fit a model of the capability on the workspace with its spec's ``train`` and register it."""

from __future__ import annotations

from pathlib import Path

import typer

from shopml import capabilities
from shopml.cli.app import (
    REGISTRY_OPT,
    WORKSPACE_OPT,
    add_spec_commands,
    fail,
    parse_options,
    say,
    train_app,
)
from shopml.core.errors import ShopMLError


def _train_command(name: str):
    def command(
        workspace: Path = WORKSPACE_OPT,
        registry: Path = REGISTRY_OPT,
        model: str | None = typer.Option(None, "--model", "-m", help="Model name (default: the capability's)."),
        options: str | None = typer.Option(None, help="Options as k=v,... or a JSON object."),
    ) -> None:
        try:
            train = capabilities.get(name).part("train")
            kwargs = parse_options(options, "options")
            mv = train(workspace, registry, model, **kwargs) if model else train(workspace, registry, **kwargs)
        except ShopMLError as exc:
            fail(exc)
        say.print(f"registered {mv.capability}/{mv.name} {mv.version} at {mv.path}")

    command.__doc__ = f"Train a {name} model on the workspace and register it."
    return command


def register_generic() -> None:
    """Add ``shopml train <name>`` for every spec with a ``train`` and no command yet."""
    add_spec_commands(train_app, "train", _train_command)
