"""A GRU over a session's (or a customer's) event sequence, plus the row's static features.

The input is a wide frame, the one every tabular model reads: a sequence group ``g`` is the
columns ``g_1, g_2, ..., g_T`` (step order), e.g. ``item_1..item_n``, ``category_1..category_n``,
``gap_1..gap_n`` from :func:`shopml.predict.session_prefix.session_prefixes`. Categorical groups
share one vocabulary across their steps (``item_3`` and ``item_1`` index the same embedding
table; code 0 = unseen or missing); numeric groups are standardised per column by the shared
encoder. A row's sequence length is the number of present steps of the first group; steps must
be left-aligned (no gap before a present step). Columns outside every group are static
features (numeric as they are, categorical embedded) and join the GRU's last hidden state in
the head.

With ``sequences=()`` the model is an MLP over the static features (what the contract tests
check); the sequence tests in ``tests/predict/test_sequence.py`` check that order is learned.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

from shopml.core.errors import ValidationError
from shopml.core.vocab import Vocab
from shopml.predict.fields import FieldEmbedding, check_dropout, mlp
from shopml.predict.torch_train import Inputs, TorchPredictor, forward_batched, to_tensors


class SequenceGRUNet(nn.Module):
    """``(seq_categorical (B,T,G), seq_numeric (B,T,S), lengths (B,), numeric, categorical) -> (B,)``."""

    def __init__(
        self,
        seq_cardinalities: Sequence[int],
        n_seq_numeric: int,
        cardinalities: Sequence[int],
        n_numeric: int,
        embedding_dim: int = 16,
        hidden_size: int = 32,
        num_layers: int = 1,
        head: Sequence[int] = (32,),
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.seq_embeddings = nn.ModuleList(
            nn.Embedding(int(c), int(embedding_dim)) for c in seq_cardinalities
        )
        d_step = len(self.seq_embeddings) * int(embedding_dim) + int(n_seq_numeric)
        self.hidden_size = int(hidden_size) if d_step else 0
        self.gru = (
            nn.GRU(
                d_step,
                int(hidden_size),
                num_layers=int(num_layers),
                batch_first=True,
                dropout=float(dropout) if int(num_layers) > 1 else 0.0,
            )
            if d_step
            else None
        )
        cards = [int(c) for c in cardinalities]
        self.static = FieldEmbedding(cards, 0, embedding_dim) if cards else None
        d_in = self.hidden_size + int(n_numeric) + len(cards) * int(embedding_dim)
        if d_in == 0:
            raise ValidationError("the sequence model has neither sequence nor static features")
        self.head, width = mlp(d_in, head, dropout)
        self.out = nn.Linear(width, 1)

    def forward(
        self,
        seq_categorical: torch.Tensor,
        seq_numeric: torch.Tensor,
        lengths: torch.Tensor,
        numeric: torch.Tensor,
        categorical: torch.Tensor,
    ) -> torch.Tensor:
        parts = [numeric]
        if self.gru is not None:
            steps = torch.cat(
                [emb(seq_categorical[..., g]) for g, emb in enumerate(self.seq_embeddings)]
                + [seq_numeric],
                dim=-1,
            )
            # an empty sequence reads one (masked) step and its state is zeroed below
            packed = pack_padded_sequence(
                steps, lengths.clamp(min=1).cpu(), batch_first=True, enforce_sorted=False
            )
            _, h = self.gru(packed)
            parts.append(h[-1] * (lengths > 0).unsqueeze(-1).to(h.dtype))
        if self.static is not None:
            parts.append(self.static(numeric[:, :0], categorical).flatten(1))
        return self.out(self.head(torch.cat(parts, dim=1))).squeeze(-1)


def sequence_columns(columns: Sequence[str], group: str) -> list[str]:
    """The columns ``group_1..group_T`` of one group, in step order; steps must run 1..T."""
    pat = re.compile(rf"^{re.escape(group)}_(\d+)$")
    found = sorted((int(m.group(1)), c) for c in columns if (m := pat.match(c)))
    if not found:
        raise ValidationError(
            f"sequence group {group!r} has no columns {group}_1, {group}_2, ... in X"
        )
    steps = [t for t, _ in found]
    if steps != list(range(1, len(steps) + 1)):
        raise ValidationError(
            f"sequence group {group!r} has steps {steps}; expected 1..{len(steps)} without gaps"
        )
    return [c for _, c in found]


class GRUClassifier(TorchPredictor):
    """P(y=1) from an event sequence (GRU) and static features; see the module docstring.

    ``sequences`` names the step-column groups (the first one decides each row's length);
    ``embedding_dim`` sizes every embedding, ``hidden_size`` the GRU state, ``head`` the MLP
    after it. Training: BCE, Adam with ``weight_decay`` L2, early stopping on the last
    ``validation_fraction`` of the rows (time order) or on ``eval_set``.
    """

    def __init__(
        self,
        sequences: Sequence[str] = (),
        embedding_dim: int = 16,
        hidden_size: int = 32,
        num_layers: int = 1,
        head: Sequence[int] = (32,),
        dropout: float = 0.1,
        epochs: int = 30,
        batch_size: int = 256,
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
        self.sequences = sequences
        self.embedding_dim = embedding_dim
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.head = head
        self.dropout = dropout
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

    # ----------------------------------------------------------------- layout
    def _layout(self) -> None:
        """Which feature columns form which group, and of what kind (from the fitted encoder)."""
        if isinstance(self.sequences, str):
            raise ValidationError(
                f"sequences must be a list of group names, got the string {self.sequences!r}"
            )
        enc = self.encoder_
        groups = {g: sequence_columns(self.feature_names_, g) for g in self.sequences}
        lens = {g: len(c) for g, c in groups.items()}
        if len(set(lens.values())) > 1:
            raise ValidationError(f"sequence groups have different numbers of steps: {lens}")
        self.seq_cat_ = [
            g for g, cols in groups.items() if all(c in enc.categorical_ for c in cols)
        ]
        self.seq_num_ = [g for g, cols in groups.items() if all(c in enc.numeric_ for c in cols)]
        mixed = [g for g in groups if g not in self.seq_cat_ and g not in self.seq_num_]
        if mixed:
            raise ValidationError(f"sequence group(s) {mixed} mix numeric and categorical columns")
        self.groups_ = groups
        in_seq = {c for cols in groups.values() for c in cols}
        names = enc.numeric_names
        self.static_num_idx_ = [
            i
            for i, c in enumerate(names)
            if c not in in_seq and c.removesuffix("__missing") not in in_seq
        ]
        self.static_cat_idx_ = [i for i, c in enumerate(enc.categorical_) if c not in in_seq]
        self.steps_ = next(iter(lens.values()), 0)

    def _fit(self, X, y, sample_weight, eval_set) -> None:
        check_dropout(self.dropout)
        self._layout()
        self.seq_vocabs_ = {}
        for g in self.seq_cat_:
            vals = X[self.groups_[g]].to_numpy(dtype=object).ravel()
            vals = pd.Series(vals[pd.notna(vals)]).astype(str)
            counts = vals.value_counts()
            counts = counts[counts >= int(self.min_frequency)]
            if self.max_categories is not None:
                counts = counts.iloc[: int(self.max_categories)]
            self.seq_vocabs_[g] = Vocab(counts.index.to_numpy(dtype=object))
        super()._fit(X, y, sample_weight, eval_set)

    def _build_module(self) -> nn.Module:
        return SequenceGRUNet(
            [len(self.seq_vocabs_[g]) + 1 for g in self.seq_cat_],
            len(self.seq_num_),
            [self.encoder_.cardinalities[i] for i in self.static_cat_idx_],
            len(self.static_num_idx_),
            int(self.embedding_dim),
            int(self.hidden_size),
            int(self.num_layers),
            [int(h) for h in self.head],
            check_dropout(self.dropout),
        )

    def _inputs(self, X: pd.DataFrame) -> Inputs:
        enc = self.encoder_
        coded = enc.transform(X)
        n, T = len(X), self.steps_
        seq_cat = np.zeros((n, T, len(self.seq_cat_)), dtype=np.int64)
        for j, g in enumerate(self.seq_cat_):
            vals = X[self.groups_[g]].to_numpy(dtype=object)
            present = pd.notna(vals)
            codes = (
                self.seq_vocabs_[g].encode(vals.ravel().astype(str), strict=False).reshape(n, T) + 1
            )
            seq_cat[:, :, j] = np.where(present, codes, 0)
        seq_num = np.zeros((n, T, len(self.seq_num_)), dtype=np.float32)
        names = enc.numeric_names
        for j, g in enumerate(self.seq_num_):
            seq_num[:, :, j] = coded.numeric[:, [names.index(c) for c in self.groups_[g]]]
        if self.groups_:
            first = next(iter(self.groups_.values()))
            present = X[first].notna().to_numpy()
            lengths = present.sum(axis=1)
            ragged = present & (np.arange(T)[None, :] >= lengths[:, None])
            if ragged.any():
                row = int(np.flatnonzero(ragged.any(axis=1))[0])
                raise ValidationError(
                    f"row {row}: sequence steps must be left-aligned (a missing step before a present one in {first})"
                )
        else:
            lengths = np.zeros(n, dtype=np.int64)
        return {
            "seq_categorical": seq_cat,
            "seq_numeric": seq_num,
            "lengths": lengths.astype(np.int64),
            "numeric": coded.numeric[:, self.static_num_idx_],
            "categorical": coded.categorical[:, self.static_cat_idx_],
        }

    # ----------------------------------------------------------------- explain
    def _slot(self, feature: str) -> tuple[str, tuple[Any, ...]]:
        """Where a feature lives in the inputs: (key, index into the per-row array)."""
        enc = self.encoder_
        for j, g in enumerate(self.seq_cat_):
            if feature in self.groups_[g]:
                return "seq_categorical", (self.groups_[g].index(feature), j)
        for j, g in enumerate(self.seq_num_):
            if feature in self.groups_[g]:
                return "seq_numeric", (self.groups_[g].index(feature), j)
        if feature in enc.categorical_:
            return "categorical", (self.static_cat_idx_.index(enc.categorical_.index(feature)),)
        return "numeric", (self.static_num_idx_.index(enc.numeric_names.index(feature)),)

    def _explain(self, X: pd.DataFrame) -> np.ndarray:
        """Occlusion per feature: the drop in log-odds when the feature is set to its baseline
        (unseen code for categorical values, the training mean for numbers); ``bias`` is the
        output with every feature at its baseline (the row's sequence length kept)."""
        raw = self._inputs(X)
        full = forward_batched(self.module_, to_tensors(raw, self.device_)).cpu().numpy()
        out = np.zeros((len(X), len(self.feature_names_) + 1))
        for k, feature in enumerate(self.feature_names_):
            key, idx = self._slot(feature)
            occl = dict(raw)
            occl[key] = raw[key].copy()
            occl[key][(slice(None), *idx)] = 0
            out[:, k] = (
                full - forward_batched(self.module_, to_tensors(occl, self.device_)).cpu().numpy()
            )
        base = {k: (v if k == "lengths" else np.zeros_like(v)) for k, v in raw.items()}
        out[:, -1] = forward_batched(self.module_, to_tensors(base, self.device_)).cpu().numpy()
        return out

    # ----------------------------------------------------------------- persistence
    def _meta(self) -> dict[str, Any]:
        meta = super()._meta()
        meta["sequence_vocabs"] = {g: v.ids.tolist() for g, v in self.seq_vocabs_.items()}
        return meta

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._layout()
        self.seq_vocabs_ = {g: Vocab(ids) for g, ids in meta.get("sequence_vocabs", {}).items()}
        super()._set_state(arrays, meta)


__all__ = ["GRUClassifier", "SequenceGRUNet", "sequence_columns"]
