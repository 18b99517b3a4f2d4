"""The trainable prediction tasks by name, and what the callers ask of any of them."""

from __future__ import annotations

from typing import Any

import pandas as pd

from shopml.core.errors import ValidationError
from shopml.predict.decision import CostMatrix
from shopml.predict.tasks.base import Scoring, Task, Training
from shopml.predict.tasks.churn import CHURN
from shopml.predict.tasks.conversion import CONVERSION
from shopml.predict.tasks.ctr import CTR
from shopml.predict.tasks.fraud import FRAUD

#: every trainable task, by name (CLV is a model of its own: :mod:`shopml.predict.clv`)
TASKS: dict[str, Task] = {t.name: t for t in (CHURN, FRAUD, CTR, CONVERSION)}

# the tables of the tasks, by name (read by the CLI, the service and older callers)
TASK_OPTIONS: dict[str, dict[str, Any]] = {n: dict(t.options) for n, t in TASKS.items()}
TASK_ENTITY: dict[str, str] = {n: t.entity for n, t in TASKS.items()}
TASK_TABLES: dict[str, tuple[str, ...]] = {n: t.tables for n, t in TASKS.items()}
TASK_CATEGORICAL: dict[str, list[str] | None] = {
    n: None if t.categorical is None else list(t.categorical) for n, t in TASKS.items()
}
TASK_MODELS: dict[str, tuple[str, ...]] = {n: t.models for n, t in TASKS.items()}


def get_task(task: str) -> Task:
    """The task named ``task``; the error lists the trainable ones."""
    found = TASKS.get(task)
    if found is None:
        raise ValidationError(
            f"unknown predict task {task!r}; trainable tasks: {sorted(TASKS)} "
            "(clv: see `shopml bench predict --task clv`)"
        )
    return found


def check_task(task: str) -> str:
    """``task`` if it names a trainable task (else a :class:`ValidationError`)."""
    return get_task(task).name


def task_options(task: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task's options: defaults updated with ``options`` (unknown keys are refused)."""
    base = dict(get_task(task).options)
    unknown = sorted(set(options or {}) - set(base))
    if unknown:
        raise ValidationError(
            f"unknown option(s) {unknown} for task {task!r}; expected {sorted(base)}"
        )
    base.update(options or {})
    return base


def training_data(task: str, ws: Any, options: dict[str, Any]) -> Training:
    """``X_train, y_train, X_val, y_val, info`` for ``task`` from workspace ``ws``."""
    return get_task(task).training(ws, options)


def scoring_data(task: str, ws: Any, options: dict[str, Any]) -> Scoring:
    """Entity ids and features of every row to score now (customers at the last order day;
    every order, as of its own time; every impression; every session at its ``n``-th event)."""
    return get_task(task).scoring(ws, options)


def default_costs(task: str, X: pd.DataFrame, options: dict[str, Any]) -> CostMatrix | None:
    """The task's cost matrix from its options (``None`` for churn: no decision by default)."""
    return get_task(task).costs(X, options)
