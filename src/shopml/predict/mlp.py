"""A feed-forward purchase predictor: embeddings for categorical columns, standardised numeric
columns, ReLU layers with dropout, one logit; binary cross-entropy with L2 (Adam weight decay)
and early stopping on a validation slice (the shared loop in :mod:`shopml.predict.torch_train`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shopml.core.errors import ValidationError
from shopml.predict.torch_train import TorchPredictor


def embedding_dim(cardinality: int, cap: int = 16) -> int:
    """A rule-of-thumb embedding width (fast.ai's 1.6·n^0.56), capped."""
    return int(max(2, min(cap, round(1.6 * cardinality**0.56))))


class TabularMLP(nn.Module):
    """Concatenate numeric inputs and categorical embeddings, then an MLP to one output."""

    def __init__(self, n_numeric: int, cardinalities: list[int], hidden: Sequence[int], dropout: float, emb_cap: int) -> None:
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c, embedding_dim(c, emb_cap)) for c in cardinalities)
        width = n_numeric + sum(e.embedding_dim for e in self.embeddings)
        layers: list[nn.Module] = []
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU(), nn.Dropout(float(dropout))]
            width = int(h)
        layers.append(nn.Linear(width, 1))
        self.mlp = nn.Sequential(*layers)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        parts = [numeric] + [emb(categorical[:, j]) for j, emb in enumerate(self.embeddings)]
        return self.mlp(torch.cat(parts, dim=1)).squeeze(1)


class MLPClassifier(TorchPredictor):
    """Multi-layer perceptron for P(y=1). ``weight_decay`` is the L2 penalty; ``patience`` epochs
    without a better validation log loss stop training (best weights kept; ``None``: run all
    ``epochs``)."""

    def __init__(
        self,
        hidden: Sequence[int] = (64, 32),
        dropout: float = 0.2,
        embedding_cap: int = 16,
        epochs: int = 30,
        batch_size: int = 512,
        lr: float = 1e-3,
        weight_decay: float = 1e-5,
        patience: int | None = 3,
        validation_fraction: float = 0.1,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        min_frequency: int = 1,
        max_categories: int | None = None,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.hidden = hidden
        self.dropout = dropout
        self.embedding_cap = embedding_cap
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.numeric = numeric
        self.categorical = categorical
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.seed = seed
        self.device = device

    def _build_module(self) -> nn.Module:
        if not 0 <= float(self.dropout) < 1:
            raise ValidationError(f"dropout must be in [0, 1), got {self.dropout}")
        return TabularMLP(
            len(self.encoder_.numeric_names),
            self.encoder_.cardinalities,
            [int(h) for h in self.hidden],
            float(self.dropout),
            int(self.embedding_cap),
        )


__all__ = ["MLPClassifier", "TabularMLP", "embedding_dim"]
