"""The models a task trains, by name, with the defaults the tasks were tuned with."""

from __future__ import annotations

import inspect
from typing import Any

from shopml.core.errors import ValidationError
from shopml.predict.base import Predictor
from shopml.predict.tasks.base import sequence_groups
from shopml.predict.tasks.registry import TASKS, get_task

#: model name -> (module, class)
MODEL_CLASSES: dict[str, tuple[str, str]] = {
    "logistic": ("shopml.predict.linear", "LogisticRegression"),
    "lightgbm": ("shopml.predict.gbm", "LightGBMClassifier"),
    "mlp": ("shopml.predict.mlp", "MLPClassifier"),
    "deepfm": ("shopml.predict.deepfm", "DeepFMClassifier"),
    "dcn": ("shopml.predict.dcn", "DCNv2Classifier"),
    "gru": ("shopml.predict.sequence", "GRUClassifier"),
}


def _defaults(name: str, seed: int, columns: list[str] | None) -> dict[str, Any]:
    torch_kw = {
        "epochs": 20,
        "batch_size": 512,
        "weight_decay": 1e-5,
        "patience": 3,
        "seed": seed,
        "min_frequency": 20,
    }
    defaults: dict[str, dict[str, Any]] = {
        "logistic": {"min_frequency": 20},
        "lightgbm": {
            "n_estimators": 1000,
            "learning_rate": 0.02,
            "num_leaves": 15,
            "min_child_samples": 40,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "reg_lambda": 1.0,
            "early_stopping_rounds": 50,
            "seed": seed,
            "min_frequency": 20,
        },
        "mlp": {
            "hidden": (64, 32),
            "epochs": 40,
            "batch_size": 512,
            "weight_decay": 1e-4,
            "patience": 5,
            "seed": seed,
            "min_frequency": 20,
        },
        "deepfm": {"embedding_dim": 8, "hidden": (64, 32), "dropout": 0.2, **torch_kw},
        "dcn": {
            "embedding_dim": 8,
            "cross_layers": 2,
            "hidden": (64, 32),
            "structure": "parallel",
            "dropout": 0.2,
            **torch_kw,
        },
        # the session-prefix step groups (item_1.., category_1.., ...) are the sequences
        "gru": {
            "sequences": sequence_groups(list(columns or [])),
            "embedding_dim": 16,
            "hidden_size": 32,
            "head": (32,),
            "dropout": 0.2,
            **torch_kw,
        },
    }
    return defaults[name]


def make_model(
    name: str,
    task: str,
    params: dict[str, Any] | None = None,
    seed: int = 0,
    columns: list[str] | None = None,
) -> Predictor:
    """A fresh model by name (each task's ``models``: ``logistic``, ``lightgbm``, ``mlp``, and
    for ctr and conversion ``deepfm``, ``dcn``, for conversion ``gru``) with the task's
    categorical columns (those among ``columns``, when given) declared and ``params`` applied."""
    import importlib

    spec = get_task(task)
    cat = None if spec.categorical is None else list(spec.categorical)
    if cat is not None and columns is not None:
        cat = [c for c in cat if c in columns]
    if name not in spec.models:
        users = sorted(t for t, s in TASKS.items() if name in s.models)
        why = f" ({name} is for tasks {users})" if name in MODEL_CLASSES else ""
        raise ValidationError(
            f"unknown model {name!r} for task {task!r}; expected one of "
            f"{sorted(spec.models)}{why}"
        )
    module, cls_name = MODEL_CLASSES[name]
    cls = getattr(importlib.import_module(module), cls_name)
    accepted = set(inspect.signature(cls).parameters) - {"categorical"}
    unknown = sorted(set(params or {}) - accepted)
    if unknown:
        raise ValidationError(
            f"unknown parameter(s) {unknown} for model {name!r}; expected some of "
            f"{sorted(accepted)}"
        )
    kw = {**_defaults(name, seed, columns), **(params or {})}
    return cls(categorical=cat, **kw)
