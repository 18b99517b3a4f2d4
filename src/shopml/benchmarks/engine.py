"""`shopml bench --engine ray`: a benchmark suite run as one Ray task on a cluster node.

(It lives with the benchmarks, above :mod:`shopml.distributed`, whose engine it uses: the
distributed layer never imports the benchmarks.)

The suite's code is unchanged: the driver sends ``(capability, arguments)`` to one Ray task,
which runs the suite exactly as ``--engine local`` runs it (same seeds, same splits, same
models in the same order) and returns its :class:`~shopml.benchmarks.runner.BenchResult`; the
driver writes it. The metrics are therefore the local engine's; the timings and the
``machine`` field are those of the node that ran it. The suites are not split into per-model
Ray tasks: their models share splits, tuning budgets and bootstrap draws, and the timing
columns compare models on one machine, which parallel tasks on a shared node would distort.

The task reserves ``num_cpus`` CPUs of the cluster (default 1; the suite's BLAS and torch may
use more of its node). Paths (``workspace``, ``$SHOPML_DATA_DIR``) are made absolute and must be
readable on the node: on a multi-machine cluster, storage every node mounts at the same path.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from shopml.benchmarks.runner import get_suite
from shopml.core.errors import ShopMLError, ValidationError
from shopml.distributed.engine import check_engine, ray_session


def run_suite(
    capability: str,
    engine: str = "local",
    address: str | None = None,
    num_cpus: float = 1,
    **kwargs: Any,
) -> Any:
    """The ``capability`` suite's result, run here (``local``) or as one Ray task (``ray``).

    ``kwargs`` are the suite's own arguments (``dataset``, ``workspace``, ``quick``, ...).
    """
    check_engine(engine, address)
    get_suite(capability)  # a clear error for an unknown suite before Ray starts
    if engine == "local":
        return _run(capability, kwargs)
    if not num_cpus > 0:
        raise ValidationError(f"num_cpus must be positive, got {num_cpus!r}")
    if kwargs.get("workspace") is not None:
        kwargs["workspace"] = Path(kwargs["workspace"]).resolve()
    env = {}
    if os.environ.get("SHOPML_DATA_DIR"):
        env["SHOPML_DATA_DIR"] = str(Path(os.environ["SHOPML_DATA_DIR"]).resolve())
    with ray_session(address) as ray:
        options: dict[str, Any] = {"num_cpus": num_cpus}
        if env:
            options["runtime_env"] = {"env_vars": env}
        task = ray.remote(_run).options(**options)
        try:
            return ray.get(task.remote(capability, kwargs))
        except ray.exceptions.RayTaskError as exc:
            # the suite's own error (bad dataset, bad model name) as the local engine raises it
            cause = getattr(exc, "cause", None)
            if isinstance(cause, ShopMLError):
                raise cause from exc
            raise ShopMLError(f"the {capability} suite failed on Ray: {exc}") from exc


def _run(capability: str, kwargs: dict[str, Any]) -> Any:
    return get_suite(capability)(**kwargs)


__all__ = ["run_suite"]
