"""The text models by name (what ``--model`` and the capability spec list)."""

from __future__ import annotations

from typing import Any

from shopml.core.errors import ValidationError
from shopml.text.base import SentimentModel


def models() -> dict[str, type[SentimentModel]]:
    """Model name -> class (the torch fine-tuner is imported only when listed)."""
    from shopml.text.embedding_head import MiniLMHead
    from shopml.text.finetune import FineTunedMiniLM
    from shopml.text.tfidf_logistic import TfidfLogistic

    return {
        "tfidf": TfidfLogistic,
        "minilm-linear": MiniLMHead,
        "minilm-mlp": MiniLMHead,
        "minilm-finetune": FineTunedMiniLM,
    }


def make_model(name: str, **params: Any) -> SentimentModel:
    """A fresh, unfitted model ``name`` with ``params``."""
    table = models()
    if name not in table:
        raise ValidationError(f"unknown text model {name!r}; choose from {sorted(table)}")
    if name == "minilm-mlp":
        params = {"head": "mlp", **params}
    return table[name](**params)
