"""Implicit-feedback ALS (Hu, Koren & Volinsky 2008) with the conjugate-gradient solver of
Takács, Pilászy & Tikk (2011), batched over all users (items) at once with sparse matrix work.

Loss: ``sum_{u,i} c_ui (p_ui - x_u·y_i)^2 + regularization (|X|^2 + |Y|^2)`` with preference
``p_ui = 1`` where the user interacted and confidence ``c_ui = 1 + alpha · r_ui``.

One half-iteration (users given items) solves, for every user at once,
``(Y^T Y + reg I + Y^T (C_u - I) Y) x_u = Y^T C_u p_u`` by ``cg_steps`` conjugate-gradient steps
warm-started from the previous factors. The only per-interaction work is a gather-dot
(``x_u · y_i`` for each observed pair) and one sparse-times-dense product, so the solver has no
Python loop over users; rows are processed in blocks to bound memory.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from shopml.core.errors import ValidationError
from shopml.recommend.base import Batch, Recommender
from shopml.recommend.interactions import Interactions

# observed pairs per block of rows in the CG solver: keeps the nnz × factors temporaries near cache
_BLOCK_NNZ = 50_000
# a block whose share of observed pairs exceeds this gets x_u · y_i for *all* its pairs from one
# BLAS product (about 30 times faster per multiply than the gather-dot on 2 cores), rows capped so
# the dense block stays within _BLOCK_DENSE entries
_DENSE_MIN_DENSITY = 0.03
_BLOCK_DENSE = 4_000_000


class ALS(Recommender):
    """Matrix factorisation for implicit feedback by alternating least squares.

    Parameters
    ----------
    factors
        Latent dimension.
    regularization
        L2 penalty on both factor matrices (not scaled by activity, as in ``implicit``).
    alpha
        Confidence slope: ``c = 1 + alpha · r``. (``implicit`` uses ``c = alpha · r``.)
    iterations
        Alternating sweeps (users, then items).
    cg_steps
        Conjugate-gradient steps per sweep and row, warm-started (3 is implicit's default).
    seed
        Seed of the factor initialisation.
    track_loss
        Record the training loss after every sweep in ``loss_`` (costs one extra pass).
    num_threads
        Row blocks solved in parallel threads (numpy and scipy release the GIL in the gathers and
        sparse products); BLAS is held to one thread meanwhile, as ``implicit`` does. 0 = all cores.
    """

    def __init__(
        self,
        factors: int = 64,
        regularization: float = 0.05,
        alpha: float = 10.0,
        iterations: int = 15,
        cg_steps: int = 3,
        seed: int = 0,
        track_loss: bool = False,
        num_threads: int = 0,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.alpha = alpha
        self.iterations = iterations
        self.cg_steps = cg_steps
        self.seed = seed
        self.track_loss = track_loss
        self.num_threads = num_threads

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        for name in ("factors", "iterations", "cg_steps"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < 1:
                raise ValidationError(f"{name} must be a positive integer, got {v!r}")
        if self.regularization < 0 or self.alpha < 0:
            raise ValidationError(
                f"regularization and alpha must be >= 0, got {self.regularization}, {self.alpha}"
            )
        Cui = _confidence(X, self.alpha)
        Ciu = Cui.T.tocsr()
        rng = np.random.default_rng(self.seed)
        # small positive start, as implicit does: large random factors slow the first sweeps
        U = (rng.random((X.shape[0], self.factors), dtype=np.float32) * 0.01).astype(np.float32)
        V = (rng.random((X.shape[1], self.factors), dtype=np.float32) * 0.01).astype(np.float32)
        self.loss_: list[float] = []
        threads = self.num_threads or os.cpu_count() or 1
        pool = ThreadPoolExecutor(threads) if threads > 1 else None
        # parallel row blocks each calling a multi-threaded BLAS would oversubscribe the cores
        limits = threadpool_limits(1, "blas") if pool is not None else nullcontext()
        try:
            with limits:
                for _ in range(self.iterations):
                    _cg_sweep(Cui, U, V, self.regularization, self.cg_steps, pool, threads)
                    _cg_sweep(Ciu, V, U, self.regularization, self.cg_steps, pool, threads)
                    if self.track_loss:
                        self.loss_.append(als_loss(Cui, U, V, self.regularization))
        finally:
            if pool is not None:
                pool.shutdown()
        self.user_factors_ = U
        self.item_factors_ = V

    def _score(self, batch: Batch) -> np.ndarray:
        user_idx = batch.user_idx
        vecs = np.zeros((len(user_idx), self.factors), dtype=np.float32)
        known = user_idx >= 0
        vecs[known] = self.user_factors_[user_idx[known]]
        if (~known).any():
            vecs[~known] = self.fold_in(batch.histories[np.flatnonzero(~known)])
        scores = vecs @ self.item_factors_.T
        return self._popularity_fallback(scores, batch)

    def fold_in(self, histories: sp.csr_matrix) -> np.ndarray:
        """User factors for new histories (rows × items) with the item factors held fixed."""
        C = _confidence(sp.csr_matrix(histories, dtype=np.float32), self.alpha)
        x = np.zeros((C.shape[0], self.factors), dtype=np.float32)
        # CG solves an f-dimensional SPD system exactly in at most f steps
        _cg_sweep(C, x, self.item_factors_, self.regularization, self.factors)
        return x

    def _item_vectors(self) -> np.ndarray:
        return self.item_factors_

    def _get_state(self) -> dict[str, np.ndarray]:
        return {
            "user_factors": self.user_factors_,
            "item_factors": self.item_factors_,
            "loss": np.asarray(self.loss_, dtype=np.float64),
        }

    def _set_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.user_factors_ = arrays["user_factors"]
        self.item_factors_ = arrays["item_factors"]
        self.loss_ = arrays.get("loss", np.empty(0)).tolist()


def _confidence(X: sp.csr_matrix, alpha: float) -> sp.csr_matrix:
    """Same sparsity as ``X``, values ``c = 1 + alpha · r`` (only observed pairs are stored)."""
    C = sp.csr_matrix(X, dtype=np.float32, copy=True)
    C.sum_duplicates()
    C.eliminate_zeros()
    C.data = 1.0 + np.float32(alpha) * C.data
    return C


def _cg_sweep(
    C: sp.csr_matrix,
    X: np.ndarray,
    Y: np.ndarray,
    reg: float,
    steps: int,
    pool: ThreadPoolExecutor | None = None,
    parts: int = 1,
) -> None:
    """Update every row of ``X`` in place by ``steps`` CG steps on its normal equations.

    Rows are independent, so row blocks are solved one after another or, with ``pool``, in
    parallel in at least ``parts`` blocks (each thread writes only its own rows of ``X``).
    """
    f = Y.shape[1]
    YtY = (Y.T @ Y).astype(np.float32) + np.float32(reg) * np.eye(f, dtype=np.float32)
    n_rows, n_cols = C.shape
    X[np.diff(C.indptr) == 0] = 0.0  # no interactions: the minimiser is zero
    dense = C.nnz > _DENSE_MIN_DENSITY * n_rows * n_cols
    # row blocks of at most _BLOCK_NNZ observed pairs (sparse) or _BLOCK_DENSE entries (dense),
    # and at least one block per thread
    if dense:
        rows = min(_BLOCK_DENSE // max(n_cols, 1), -(-n_rows // parts))
        edges = np.arange(0, n_rows, max(1, rows))
    else:
        per = max(1, min(_BLOCK_NNZ, -(-C.nnz // parts)))
        edges = np.searchsorted(C.indptr[1:], np.arange(per, C.nnz, per)) + 1
    edges = np.unique(np.concatenate([[0], edges, [n_rows]]))
    blocks = [
        (C[a:b], X[a:b], Y, YtY, steps, dense) for a, b in zip(edges[:-1], edges[1:], strict=False)
    ]
    if pool is None:
        for args in blocks:
            _cg_block(*args)
    else:
        for _ in pool.map(lambda args: _cg_block(*args), blocks):
            pass


def _cg_block(
    C: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, YtY: np.ndarray, steps: int, dense: bool
) -> None:
    counts = np.diff(C.indptr)
    w = C.data - np.float32(1.0)  # the (c - 1) weights of Y^T (C_u - I) Y
    if dense:
        rows = np.repeat(np.arange(C.shape[0], dtype=np.int64), counts)
        flat = rows * C.shape[1] + C.indices

        def pair_dots(P: np.ndarray) -> np.ndarray:
            return np.take(P @ Y.T, flat)

    else:
        Yc = Y[C.indices]  # item factors of every observed pair, reused by every step

        def pair_dots(P: np.ndarray) -> np.ndarray:
            return np.einsum("ij,ij->i", np.repeat(P, counts, axis=0), Yc)

    def apply_A(P: np.ndarray) -> np.ndarray:
        # (YtY + reg I) p_u + sum_i (c_ui - 1) (y_i · p_u) y_i, for all rows at once
        M = sp.csr_matrix((w * pair_dots(P), C.indices, C.indptr), shape=C.shape)
        return P @ YtY + M @ Y

    R = (C @ Y) - apply_A(X)  # b - A x with b = Y^T C_u p_u (p = 1 on observed pairs)
    P = R.copy()
    rs = np.einsum("ij,ij->i", R, R)
    # a row whose residual fell below float32 resolution (relative 1e-6) stops: further steps
    # would only divide rounding noise by rounding noise
    tol = np.maximum(rs * np.float32(1e-12), np.float32(1e-30))
    for _ in range(steps):
        active = rs > tol
        if not active.any():
            break
        AP = apply_A(P)
        pAp = np.einsum("ij,ij->i", P, AP)
        step = np.divide(rs, pAp, out=np.zeros_like(rs), where=active & (pAp > 0))
        X += step[:, None] * P
        R -= step[:, None] * AP
        rs_new = np.einsum("ij,ij->i", R, R)
        beta = np.divide(rs_new, rs, out=np.zeros_like(rs), where=active)
        P = R + beta[:, None] * P
        rs = rs_new


def als_loss(C: sp.csr_matrix, X: np.ndarray, Y: np.ndarray, reg: float) -> float:
    """The implicit-ALS objective over *all* user-item pairs, computed without densifying.

    ``sum_all (x·y)^2`` is ``trace(X^T X Y^T Y)``; observed pairs then swap their ``(0 - d)^2``
    term for ``c (1 - d)^2``.
    """
    X64, Y64 = X.astype(np.float64), Y.astype(np.float64)
    total = float(np.sum((X64.T @ X64) * (Y64.T @ Y64)))
    rows = np.repeat(np.arange(C.shape[0]), np.diff(C.indptr))
    d = np.einsum("ij,ij->i", X64[rows], Y64[C.indices])
    total += float(np.sum(C.data * (1.0 - d) ** 2 - d**2))
    return total + reg * float(np.sum(X64**2) + np.sum(Y64**2))
