"""The vision capability's models by name."""

from __future__ import annotations

from shopml.vision.cnn import CNNClassifier
from shopml.vision.floor import HistogramGBMClassifier

MODELS: dict[str, type] = {"cnn": CNNClassifier, "histogram-gbm": HistogramGBMClassifier}


def models() -> dict[str, type]:
    """Model name -> class."""
    return dict(MODELS)


__all__ = ["MODELS", "models"]
