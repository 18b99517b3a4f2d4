"""Field embeddings shared by the factorisation-style CTR networks (DeepFM, DCN-v2).

A *field* is one input column. Every categorical field owns a slice of one embedding table
(one ``nn.Embedding`` with per-field offsets, so a batch is a single lookup, not one per
field); every numeric field owns one vector that is scaled by the field's (standardised)
value, the usual way numeric features enter factorisation machines. The result is a
``(batch, fields, dim)`` tensor: numeric fields first, then categorical, the order of
:class:`shopml.predict.encoding.Encoded`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shopml.core.errors import ValidationError


def check_fields(cardinalities: Sequence[int], n_numeric: int) -> list[int]:
    """Validate field sizes: each categorical cardinality >= 1, ``n_numeric`` >= 0, some field."""
    cards = [int(c) for c in cardinalities]
    if any(c < 1 for c in cards):
        raise ValidationError(f"categorical cardinalities must be >= 1, got {cards}")
    if int(n_numeric) < 0:
        raise ValidationError(f"n_numeric must be >= 0, got {n_numeric}")
    if not cards and int(n_numeric) == 0:
        raise ValidationError("a network needs at least one numeric or categorical field")
    return cards


class FieldEmbedding(nn.Module):
    """``(numeric (B, d_num), categorical (B, n_cat)) -> (B, d_num + n_cat, dim)``."""

    def __init__(self, cardinalities: Sequence[int], n_numeric: int, dim: int) -> None:
        super().__init__()
        cards = check_fields(cardinalities, n_numeric)
        if int(dim) < 1:
            raise ValidationError(f"embedding dim must be >= 1, got {dim}")
        self.n_numeric = int(n_numeric)
        self.n_categorical = len(cards)
        self.dim = int(dim)
        offsets = torch.zeros(len(cards), dtype=torch.long)
        if cards:
            offsets[1:] = torch.cumsum(torch.tensor(cards[:-1], dtype=torch.long), 0)
        self.register_buffer("offsets", offsets, persistent=False)
        self.table = nn.Embedding(max(sum(cards), 1), self.dim)
        self.numeric_vectors = nn.Parameter(torch.empty(self.n_numeric, self.dim))
        # small initial embeddings keep the FM's pairwise sums (and DCN's products) near 0
        nn.init.normal_(self.table.weight, std=0.01)
        nn.init.normal_(self.numeric_vectors, std=0.01)

    @property
    def n_fields(self) -> int:
        return self.n_numeric + self.n_categorical

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        parts = []
        if self.n_numeric:
            parts.append(numeric.unsqueeze(-1) * self.numeric_vectors)
        if self.n_categorical:
            parts.append(self.table(categorical + self.offsets))
        return torch.cat(parts, dim=1)


class FieldLinear(nn.Module):
    """First-order term: a weight per categorical value and per numeric field, plus a bias."""

    def __init__(self, cardinalities: Sequence[int], n_numeric: int) -> None:
        super().__init__()
        self.emb = FieldEmbedding(cardinalities, n_numeric, 1)
        nn.init.zeros_(self.emb.table.weight)
        nn.init.zeros_(self.emb.numeric_vectors)
        self.bias = nn.Parameter(torch.zeros(1))

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        return self.emb(numeric, categorical).sum(dim=(1, 2)) + self.bias


def check_dropout(p: float) -> float:
    """Dropout must be a probability in ``[0, 1)``."""
    if not 0 <= float(p) < 1:
        raise ValidationError(f"dropout must be in [0, 1), got {p}")
    return float(p)


def mlp(
    d_in: int, hidden: Sequence[int], dropout: float = 0.0, batch_norm: bool = False
) -> tuple[nn.Sequential, int]:
    """``Linear -> [BatchNorm] -> ReLU -> Dropout`` per hidden size; returns it and its width."""
    layers: list[nn.Module] = []
    d = int(d_in)
    for h in hidden:
        if int(h) < 1:
            raise ValidationError(f"hidden layer sizes must be >= 1, got {list(hidden)}")
        layers.append(nn.Linear(d, int(h)))
        if batch_norm:
            layers.append(nn.BatchNorm1d(int(h)))
        layers.append(nn.ReLU())
        if dropout > 0:
            layers.append(nn.Dropout(float(dropout)))
        d = int(h)
    return nn.Sequential(*layers), d


__all__ = ["FieldEmbedding", "FieldLinear", "check_dropout", "check_fields", "mlp"]
