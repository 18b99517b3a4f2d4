"""What a prediction task is (:class:`Task`), and the parts several tasks share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shopml.predict.decision import CostMatrix

CAPABILITY = "predict"
# the predictor's files sit at the version's root (so `shopml batch predict` loads it as any
# Predictor), the calibrator beside them
CALIBRATOR_FILE = "calibrator"  # a folder (the estimator base); older versions: calibrator.json
MONITOR_FILE = "monitor.json"  # the training snapshot monitoring compares served rows with
TABULAR_MODELS = ("logistic", "lightgbm", "mlp")

#: ``X_train, y_train, X_val, y_val, info`` of a task's training rows
Training = tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, dict[str, Any]]
#: entity ids and features of the rows to score now
Scoring = tuple[np.ndarray, pd.DataFrame]


def _no_costs(X: pd.DataFrame, options: Mapping[str, Any]) -> CostMatrix | None:
    return None


@dataclass(frozen=True)
class Task:
    """One prediction task: what a row is, its features, its label, its split, its models and
    the costs of the decision taken on its probabilities.

    ``training(ws, options)`` returns the training and validation rows (:data:`Training`),
    split as ``split`` says; ``scoring(ws, options)`` the rows to score now (:data:`Scoring`);
    ``costs(X, options)`` the cost matrix of the decision on rows ``X`` (``None``: no decision
    by default). ``options`` holds the defaults of every option the task accepts.
    """

    name: str
    entity: str  # the id column of a row: user_id, order_id, ...
    tables: tuple[str, ...]  # the workspace tables its rows come from (fingerprinted)
    options: Mapping[str, Any]
    categorical: tuple[str, ...] | None  # declared categorical columns; None: from the dtypes
    models: tuple[str, ...]  # the model names it trains (make_model)
    training: Callable[[Any, dict[str, Any]], Training]
    scoring: Callable[[Any, dict[str, Any]], Scoring]
    costs: Callable[[pd.DataFrame, Mapping[str, Any]], CostMatrix | None] = _no_costs
    label: str = ""
    split: str = ""
    #: ``outcomes(ws, options) -> DataFrame[id, ts, y]``: the rows whose outcome is known now
    #: (to measure a served model's realised quality and cost on rows newer than its training)
    outcomes: Callable[[Any, dict[str, Any]], pd.DataFrame] | None = None


def value_costs(value: float, cost: float) -> CostMatrix:
    """Acting (show an item, target a session) costs ``cost``; a positive acted on is worth
    ``value``: the Bayes decision acts when ``p >= cost / value``."""
    return CostMatrix(tp=float(cost) - float(value), fp=float(cost), fn=0.0, tn=0.0)


def sequence_groups(columns: list[str], X: pd.DataFrame | None = None) -> list[str]:
    """Step-column groups (``g_1, g_2, ...``) among ``columns``, in column order: what the
    sequence model reads as sequences.

    The model takes each row's length from its first group, so with ``X`` given the groups
    present at every step of every row come first (a search event has no item: ``item_t`` may
    be missing where ``gap_t`` is not)."""
    groups: list[str] = []
    for c in columns:
        g, _, step = c.rpartition("_")
        if g and step == "1" and g not in groups:
            groups.append(g)
    if X is not None:
        full = {
            g
            for g in groups
            if X[[c for c in X.columns if c.rpartition("_")[0] == g]].notna().all(axis=None)
        }
        groups = [g for g in groups if g in full] + [g for g in groups if g not in full]
    return groups
