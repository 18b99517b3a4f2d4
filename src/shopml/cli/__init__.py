"""The ``shopml`` command: one module per command group, all registered on one Typer ``app``.

The platform's own groups (data, demo, pipelines, bench, batch, serve) are imported here; each
registered capability adds its commands through the module its spec names (``spec.cli``), so a
new capability needs no edit here.
"""

import logging

from shopml import capabilities
from shopml.cli import (  # noqa: F401  (registers commands)
    batch,
    bench,
    data,
    demo,
    doctor,
    pipeline,
    serve,
)
from shopml.cli.app import app
from shopml.core.capability import import_part

for _spec in capabilities.specs().values():
    if _spec.cli is not None:
        try:
            import_part(_spec.cli)
        except ModuleNotFoundError as _exc:  # an optional extra is missing
            if (_exc.name or "").startswith("shopml"):
                raise
            logging.getLogger("shopml").debug("%s commands unavailable: %s", _spec.name, _exc)

from shopml.cli import train  # noqa: E402  (after the capabilities' own commands)

train.register_generic()

__all__ = ["app", "main"]


def main() -> None:  # pragma: no cover
    app()
