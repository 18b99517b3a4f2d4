"""The ``deepctr-torch`` peer: its DeepFM and DCN (``cross_parameterization='matrix'``, i.e.
DCN-M / DCN-v2 full-rank, cross and deep in parallel) fed the same encoded features as shopml's
models (one :class:`shopml.predict.encoding.FeatureEncoder`, categorical codes as ``SparseFeat``,
standardised numbers as ``DenseFeat``), with the same early stopping: the last
``validation_fraction`` of the training rows, ``patience`` epochs, best weights kept.

``deepctr-torch`` (0.3.0) installs beside torch 2.13 and imports; ``fuxictr`` (2.3.10) installs
with ``--no-deps`` but does not import without ``polars`` and ``h5py``, so it is not a peer here.
"""

from __future__ import annotations

import contextlib
import copy
import io
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.predict.base import time_ordered_validation
from shopml.predict.encoding import FeatureEncoder

KINDS = ("deepfm", "dcn")


def deepctr_available() -> str | None:
    """``None`` when deepctr-torch imports, else why it does not."""
    try:
        import deepctr_torch  # noqa: F401
        from deepctr_torch.models import DCN, DeepFM  # noqa: F401
    except Exception as exc:  # an import failure of the peer is a result to report
        return f"{type(exc).__name__}: {exc}"
    return None


class DeepCTRPeer:
    """A deepctr-torch model behind ``fit(X, y)`` / ``predict_proba(X)``."""

    def __init__(
        self,
        kind: str = "deepfm",
        embedding_dim: int = 8,
        hidden: Sequence[int] = (128, 64),
        cross_layers: int = 3,
        dropout: float = 0.1,
        epochs: int = 20,
        batch_size: int = 1024,
        lr: float = 1e-3,
        patience: int | None = 3,
        validation_fraction: float = 0.1,
        seed: int = 0,
    ) -> None:
        self.kind = kind
        self.embedding_dim = embedding_dim
        self.hidden = hidden
        self.cross_layers = cross_layers
        self.dropout = dropout
        self.epochs = epochs
        self.batch_size = batch_size
        self.lr = lr
        self.patience = patience
        self.validation_fraction = validation_fraction
        self.seed = seed

    def get_params(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if not k.endswith("_")}

    def _x(self, X: pd.DataFrame) -> dict[str, np.ndarray]:
        enc = self.encoder_.transform(X)
        x = {f"c{j}": enc.categorical[:, j] for j in range(enc.categorical.shape[1])}
        x.update({f"d{j}": enc.numeric[:, j] for j in range(enc.numeric.shape[1])})
        return x

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> DeepCTRPeer:
        # deepctr-torch prints the device and a line per fit call: keep the benchmark output clean
        with contextlib.redirect_stdout(io.StringIO()):
            return self._fit(X, y)

    def _fit(self, X: pd.DataFrame, y: np.ndarray) -> DeepCTRPeer:
        import torch
        import torch.nn.functional as F
        from deepctr_torch.inputs import DenseFeat, SparseFeat
        from deepctr_torch.models import DCN, DeepFM

        if self.kind not in KINDS:
            raise ValidationError(f"kind must be one of {KINDS}, got {self.kind!r}")
        self.encoder_ = FeatureEncoder().fit(X)
        feats = [
            SparseFeat(f"c{j}", c, embedding_dim=int(self.embedding_dim))
            for j, c in enumerate(self.encoder_.cardinalities)
        ]
        feats += [DenseFeat(f"d{j}", 1) for j in range(len(self.encoder_.numeric_names))]
        common = {
            "dnn_hidden_units": tuple(int(h) for h in self.hidden),
            "dnn_dropout": float(self.dropout),
            "seed": int(self.seed),
            "task": "binary",
            "device": "cpu",
        }
        if self.kind == "deepfm":
            self.model_ = DeepFM(feats, feats, **common)
        else:
            self.model_ = DCN(
                feats,
                feats,
                cross_num=int(self.cross_layers),
                cross_parameterization="matrix",
                **common,
            )
        self.model_.compile(
            torch.optim.Adam(self.model_.parameters(), lr=float(self.lr)), "binary_crossentropy"
        )
        y = np.asarray(y, dtype=np.float32)
        if self.patience is None:
            self.model_.fit(
                self._x(X), y, batch_size=int(self.batch_size), epochs=int(self.epochs), verbose=0
            )
            return self
        tr, va = time_ordered_validation(len(X), float(self.validation_fraction))
        xtr, xva = self._x(X.iloc[tr]), self._x(X.iloc[va])
        best, best_state, stale = np.inf, None, 0
        self.history_ = []
        for _ in range(int(self.epochs)):
            self.model_.fit(xtr, y[tr], batch_size=int(self.batch_size), epochs=1, verbose=0)
            p = torch.as_tensor(self.model_.predict(xva, batch_size=8192).ravel()).clamp(
                1e-7, 1 - 1e-7
            )
            loss = float(
                F.binary_cross_entropy(p.double(), torch.as_tensor(y[va], dtype=torch.float64))
            )
            self.history_.append({"val_loss": loss})
            if loss < best - 1e-7:
                best, stale, best_state = loss, 0, copy.deepcopy(self.model_.state_dict())
            else:
                stale += 1
                if stale >= int(self.patience):
                    break
        if best_state is not None:
            self.model_.load_state_dict(best_state)
        self.best_epoch_ = int(np.argmin([h["val_loss"] for h in self.history_]))
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        with contextlib.redirect_stdout(io.StringIO()):
            return self.model_.predict(self._x(X), batch_size=8192).ravel().astype(np.float64)


__all__ = ["DeepCTRPeer", "deepctr_available"]
