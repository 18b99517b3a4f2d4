"""DeepFM (Guo et al., IJCAI 2017) for sparse categorical features: linear + FM + DNN.

One logit is the sum of a first-order term (a weight per categorical value and per numeric
field), the factorisation machine's pairwise interactions of the field embeddings, and an MLP
over the same embeddings concatenated. The FM and the DNN share the embedding table, the point
of DeepFM over Wide&Deep: no hand-made cross features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from shopml.predict.fields import FieldEmbedding, FieldLinear, check_dropout, mlp
from shopml.predict.torch_train import TorchPredictor


class DeepFMNet(nn.Module):
    """``(numeric (B, d_num), categorical (B, n_cat)) -> logits (B,)``.

    The second-order term uses ``0.5 * ((sum_f e_f)^2 - sum_f e_f^2)``: O(fields * dim) per row.
    """

    def __init__(
        self,
        cardinalities: Sequence[int],
        n_numeric: int,
        embedding_dim: int = 8,
        hidden: Sequence[int] = (128, 64),
        dropout: float = 0.1,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.linear = FieldLinear(cardinalities, n_numeric)
        self.embedding = FieldEmbedding(cardinalities, n_numeric, embedding_dim)
        self.dnn, width = mlp(
            self.embedding.n_fields * int(embedding_dim), hidden, dropout, batch_norm
        )
        self.dnn_out = nn.Linear(width, 1)

    def forward(self, numeric: torch.Tensor, categorical: torch.Tensor) -> torch.Tensor:
        e = self.embedding(numeric, categorical)  # (B, F, k)
        fm = 0.5 * (e.sum(dim=1).pow(2) - e.pow(2).sum(dim=1)).sum(dim=1)
        deep = self.dnn_out(self.dnn(e.flatten(1))).squeeze(-1)
        return self.linear(numeric, categorical) + fm + deep


class DeepFMClassifier(TorchPredictor):
    """DeepFM for P(y=1) (click, conversion) behind the predictor contract.

    Categorical columns become field embeddings (code 0 = unseen value), numeric columns are
    standardised and enter as value-scaled field vectors. ``weight_decay`` is the L2 penalty;
    ``patience`` epochs without a better validation log loss stop training (``None``: run all
    ``epochs``); the validation slice is the last ``validation_fraction`` of the rows (pass
    them in time order) unless ``fit(..., eval_set=...)`` gives one.
    """

    def __init__(
        self,
        embedding_dim: int = 8,
        hidden: Sequence[int] = (128, 64),
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
        self.hidden = hidden
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
        return DeepFMNet(
            self.encoder_.cardinalities,
            len(self.encoder_.numeric_names),
            int(self.embedding_dim),
            [int(h) for h in self.hidden],
            float(self.dropout),
            bool(self.batch_norm),
        )


__all__ = ["DeepFMClassifier", "DeepFMNet"]
