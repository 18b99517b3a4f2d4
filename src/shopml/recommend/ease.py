"""EASE: embarrassingly shallow autoencoder (Steck, WWW 2019), a closed-form item-item model."""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.linalg.lapack
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.core.space import LogUniform
from shopml.recommend.base import Batch, Recommender
from shopml.recommend.interactions import Interactions


class EASE(Recommender):
    """Item-item weights ``B`` minimising ``|X - X B|^2 + l2 |B|^2`` subject to ``diag(B) = 0``.

    Closed form: ``P = (X^T X + l2 I)^-1``, ``B = -P / diag(P)`` column-wise, ``diag(B) = 0``.
    Scores are ``history @ B``, so a new visitor's history is scored without retraining. The
    dense ``n_items × n_items`` inverse limits the catalogue to ``max_items`` items.
    """

    #: declared for hyper-parameter search (shopml.core.space; Ray Tune via shopml.distributed)
    search_space = {"l2": LogUniform(10.0, 5000.0)}

    def __init__(self, l2: float = 500.0, max_items: int = 30_000) -> None:
        self.l2 = l2
        self.max_items = max_items

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        if self.l2 <= 0:
            raise ValidationError(
                f"l2 must be > 0 (it keeps X^T X + l2 I invertible), got {self.l2}"
            )
        n = X.shape[1]
        if n > self.max_items:
            raise ValidationError(
                f"EASE needs a dense {n}×{n} inverse; the catalogue exceeds max_items={self.max_items} "
                "(raise max_items if memory allows, or use ItemKNN/ALS)"
            )
        Xd = X.astype(np.float64)
        G = np.asarray((Xd.T @ Xd).todense())
        G[np.diag_indices(n)] += self.l2
        P = _spd_inverse(G)
        B = P / (-np.diag(P))[None, :]
        B[np.diag_indices(n)] = 0.0
        self.weights_ = B.astype(np.float32)

    def _score(self, batch: Batch) -> np.ndarray:
        scores = np.asarray(batch.histories @ self.weights_, dtype=np.float32)
        return self._popularity_fallback(scores, batch)

    def _item_similarity(self, item_idx: np.ndarray) -> np.ndarray:
        # column i of B: each item's weight in i's score, so ``explain`` names the actual reasons
        return self.weights_[:, np.asarray(item_idx)].T.copy()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        self.weights_ = arrays["weights"]


def _spd_inverse(G: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive definite matrix from its Cholesky factor (LAPACK potrf +
    potri: about half the work of a general inverse)."""
    c, info = scipy.linalg.lapack.dpotrf(G, lower=False, overwrite_a=True)
    if info != 0:
        raise ValidationError(f"X^T X + l2 I is not positive definite (LAPACK potrf info={info})")
    inv, info = scipy.linalg.lapack.dpotri(c, lower=False, overwrite_c=True)
    if info != 0:
        raise ValidationError(f"inverting X^T X + l2 I failed (LAPACK potri info={info})")
    # potri fills the upper triangle only
    return np.triu(inv) + np.triu(inv, 1).T
