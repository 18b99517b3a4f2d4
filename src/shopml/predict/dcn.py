"""DCN-v2 (Wang et al., WWW 2021): a cross network of explicit feature crosses beside or before
a deep network, over categorical embeddings and the numeric features.

``x_0 = [numeric values, embeddings of the categorical fields]``; each cross layer computes
``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l`` (element-wise product), so ``L`` layers hold every
feature cross up to degree ``L + 1``. ``structure="stacked"`` feeds the cross output to the
deep network; ``"parallel"`` runs both on ``x_0`` and concatenates them before the logit.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shopml.core.errors import ValidationError
from shopml.predict.fields import FieldEmbedding, check_dropout, check_fields, mlp
from shopml.predict.torch_train import TorchPredictor

STRUCTURES = ("stacked", "parallel")


class CrossNetV2(nn.Module):
    """The cross network: ``x_{l+1} = x_0 * (W_l x_l + b_l) + x_l``.

    ``low_rank=r`` factorises each ``W_l = U_l V_l^T`` (the paper's cheaper variant, ``2 d r``
    weights per layer instead of ``d^2``).
    """

    def __init__(self, d: int, n_layers: int = 3, low_rank: int | None = None) -> None:
        super().__init__()
        if int(n_layers) < 1:
            raise ValidationError(f"cross layers must be >= 1, got {n_layers}")
        if low_rank is not None and int(low_rank) < 1:
            raise ValidationError(f"low_rank must be >= 1 or None, got {low_rank}")
        self.layers = nn.ModuleList(
            nn.Linear(d, d)
            if low_rank is None
            else nn.Sequential(nn.Linear(d, int(low_rank), bias=False), nn.Linear(int(low_rank), d))
            for _ in range(int(n_layers))
        )

    def forward(self, x0: torch.Tensor) -> torch.Tensor:
        x = x0
        for layer in self.layers:
            x = x0 * layer(x) + x
        return x


class DCNv2Net(nn.Module):
    """``(numeric (B, d_num), categorical (B, n_cat)) -> logits (B,)``."""

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_numeric: int,
        embedding_dim: int = 8,
        cross_layers: int = 3,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.1,
        structure: str = "parallel",
        low_rank: int | None = None,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        cards = check_fields(cardinalities, n_numeric)
        if structure not in STRUCTURES:
            raise ValidationError(f"structure must be one of {STRUCTURES}, got {structure!r}")
        self.structure = structure
        # the paper feeds dense features to x_0 as they are; only categorical fields are embedded
        self.embedding = FieldEmbedding(cards, 0, embedding_dim) if cards else None
        d0 = int(n_numeric) + len(cards) * int(embedding_dim)
        self.cross = CrossNetV2(d0, cross_layers, low_rank)
        if structure == "stacked":
            self.dnn, width = mlp(d0, hidden, dropout, batch_norm)
        else:
            self.dnn, d_deep = mlp(d0, hidden, dropout, batch_norm)
            width = d0 + d_deep
        self.out = nn.Linear(width, 1)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        parts = [numeric]
        if self.embedding is not None:
            parts.append(self.embedding(numeric[:, :0], categorical).flatten(1))
        x0 = torch.cat(parts, dim=1)
        if self.structure == "stacked":
            h = self.dnn(self.cross(x0))
        else:
            h = torch.cat([self.cross(x0), self.dnn(x0)], dim=1)
        return self.out(h).squeeze(-1)


class DCNv2Classifier(TorchPredictor):
    """DCN-v2 for P(y=1) behind the predictor contract.

    ``cross_layers`` cross layers (full-rank, or ``low_rank`` factorised) with a deep network
    ``hidden`` ``"stacked"`` after them or ``"parallel"`` beside them. Training as in
    :class:`shopml.predict.deepfm.DeepFMClassifier` (BCE, Adam, ``weight_decay`` L2, early
    stopping on the last ``validation_fraction`` of the rows or on ``eval_set``).
    """

    def __init__(
        self,
        embedding_dim: int = 8,
        cross_layers: int = 3,
        hidden: Sequence[int] = (128, 64),
        structure: str = "parallel",
        low_rank: int | None = None,
        dropout: float = 0.1,
        batch_norm: bool = False,
        epochs: int = 20,
        batch_size: int = 1024,
        lr: float = 1e-3,
        weight_decay: float = 1e-6,
        patience: int | None = 3,
        validation_fraction: float = 0.1,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        min_frequency: int = 1,
        max_categories: int | None = None,
        seed: int = 0,
        device: str = "cpu",
    ) -> None:
        self.embedding_dim = embedding_dim
        self.cross_layers = cross_layers
        self.hidden = hidden
        self.structure = structure
        self.low_rank = low_rank
        self.dropout = dropout
        self.batch_norm = batch_norm
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
        check_dropout(self.dropout)
        return DCNv2Net(
            self.encoder_.cardinalities,
            len(self.encoder_.numeric_names),
            int(self.embedding_dim),
            int(self.cross_layers),
            [int(h) for h in self.hidden],
            float(self.dropout),
            self.structure,
            None if self.low_rank is None else int(self.low_rank),
            bool(self.batch_norm),
        )


__all__ = ["STRUCTURES", "CrossNetV2", "DCNv2Classifier", "DCNv2Net"]
