"""The ``shopml`` command: one module per command group, all registered on one Typer ``app``.

A new capability adds ``cli/<capability>.py`` (its ``train`` sub-command on ``train_app`` and its
own commands on ``app``) and imports it below.
"""

from shopml.cli import (  # noqa: F401  (registers commands)
    batch,
    bench,
    data,
    demo,
    pipeline,
    predict,
    recommend,
    search,
    serve,
)
from shopml.cli.app import app

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()
