"""``shopml bench predict --task T``: prediction tasks on real data, every model beside its
floor and peer.

Each task lives in its own module ``shopml.benchmarks.predict_<task>`` that defines
``run(dataset=None, workspace=None, quick=False, **options) -> BenchResult``; this suite only
finds the module and calls it, so a new task is a new module and nothing else. The task's
module docstring states its protocol. Tasks so far: see :func:`available_tasks`
(``clv``, ``fraud``, ``churn``, ...).

Run ``python -m shopml.benchmarks.predict --task clv --dataset cdnow-sample`` to write
``bench/results/predict_clv_cdnow-sample.json`` (+ ``.md``).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
from pathlib import Path
from typing import Any

import shopml.benchmarks as _pkg
from shopml.benchmarks.runner import BenchResult, suite
from shopml.core.errors import ValidationError

PREFIX = "predict_"
DEFAULT_TASK = "clv"


def available_tasks() -> list[str]:
    """Task names: the ``predict_<task>`` modules of :mod:`shopml.benchmarks`."""
    return sorted(
        m.name[len(PREFIX) :]
        for m in pkgutil.iter_modules(_pkg.__path__)
        if m.name.startswith(PREFIX)
    )


def task_runner(task: str):
    """The ``run`` function of task ``task``'s module."""
    if not isinstance(task, str) or task not in available_tasks():
        raise ValidationError(f"unknown predict task {task!r}; available: {available_tasks()}")
    module = importlib.import_module(f"shopml.benchmarks.{PREFIX}{task}")
    return module.run


@suite("predict")
def run(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    quick: bool = False,
    task: str = DEFAULT_TASK,
    **kw: Any,
) -> BenchResult:
    """Run one prediction task's benchmark (``task`` in :func:`available_tasks`)."""
    return task_runner(task)(dataset=dataset, workspace=workspace, quick=quick, **kw)


def main(argv: list[str] | None = None) -> None:
    """``python -m shopml.benchmarks.predict --task fraud --dataset fraud``."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--task", default=DEFAULT_TASK, choices=available_tasks())
    ap.add_argument("--dataset")
    ap.add_argument("--workspace")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--holdout-days", type=int, help="clv only: holdout length in days")
    ap.add_argument("--out")
    a = ap.parse_args(argv)
    kw = {"holdout_days": a.holdout_days} if a.holdout_days is not None else {}
    res = run(dataset=a.dataset, workspace=a.workspace, quick=a.quick, task=a.task, **kw)
    label = a.dataset or Path(a.workspace).stem
    out = a.out or f"bench/results/predict_{a.task}_{label}{'_quick' if a.quick else ''}.json"
    res.write(out)
    print(res.markdown())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
