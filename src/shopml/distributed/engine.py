"""Which engine runs a job, and the Ray session it needs.

``local`` is one process with plain batched calls; ``ray`` runs the same work on a Ray cluster:
a local one started on this machine when no address is given, or the cluster at ``address``
(``ray://head:10001`` or ``head:6379``; ``auto`` joins the cluster this machine belongs to).
Ray is an optional dependency (``pip install shopml[distributed]``); it is imported only here
and in the modules that use it, so the local engine never needs it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from types import ModuleType

from shopml.core.errors import ValidationError
from shopml.core.progress import progress_enabled

ENGINES = ("local", "ray")


def check_engine(engine: str, address: str | None = None) -> str:
    """``engine`` if it is one of :data:`ENGINES`; ``address`` only makes sense with Ray."""
    if engine not in ENGINES:
        raise ValidationError(f"engine must be one of {ENGINES}, got {engine!r}")
    if address is not None and engine != "ray":
        raise ValidationError(f"--address {address!r} needs --engine ray (got engine {engine!r})")
    return engine


def require_ray() -> ModuleType:
    """The ``ray`` module, or a clear error saying how to install it."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - ray is installed in the dev environment
        raise ValidationError(
            f"the ray engine needs Ray: pip install 'shopml[distributed]' ({exc})"
        ) from exc
    return ray


@contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[ModuleType]:
    """Connect to Ray for the duration of the block.

    An already initialised Ray (a test's, a notebook's) is used as it is and left running;
    otherwise Ray is started (no ``address``: a local instance with ``num_cpus``, default all
    cores) or joined (``address``), and shut down when the block ends.
    """
    ray = require_ray()
    started = False
    if not ray.is_initialized():
        # workers' own logs stay in the session folder; their errors still reach the caller
        kwargs: dict = {
            "include_dashboard": False,
            "logging_level": logging.WARNING,
            "log_to_driver": False,
        }
        if address is None:
            kwargs["num_cpus"] = num_cpus
        try:
            ray.init(address=address, **kwargs)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            where = f"the Ray cluster at {address!r}" if address else "a local Ray instance"
            raise ValidationError(f"could not start or reach {where}: {exc}") from exc
        started = True
    _quiet_ray_data()
    try:
        yield ray
    finally:
        if started:
            ray.shutdown()


def _quiet_ray_data() -> None:
    """Ray Data's progress bars follow shopml's (off in tests and pipes); its logs stay at warnings."""
    from ray.data import DataContext

    ctx = DataContext.get_current()
    ctx.enable_progress_bars = progress_enabled()
    ctx.print_on_execution_start = False
    logging.getLogger("ray.data").setLevel(logging.WARNING)


__all__ = ["ENGINES", "check_engine", "ray_session", "require_ray"]
