"""The predictors by name: the names ``shopml train predict -m NAME`` and the specs use."""

from __future__ import annotations

from importlib import import_module

#: model name -> (module, class)
PREDICTORS: dict[str, tuple[str, str]] = {
    "logistic": ("shopml.predict.linear", "LogisticRegression"),
    "lightgbm": ("shopml.predict.gbm", "LightGBMClassifier"),
    "mlp": ("shopml.predict.mlp", "MLPClassifier"),
    "deepfm": ("shopml.predict.deepfm", "DeepFMClassifier"),
    "dcn": ("shopml.predict.dcn", "DCNv2Classifier"),
    "gru": ("shopml.predict.sequence", "GRUClassifier"),
}


def model_classes() -> dict[str, type]:
    """Every predictor class by name (imports their modules)."""
    return {n: getattr(import_module(m), c) for n, (m, c) in PREDICTORS.items()}
