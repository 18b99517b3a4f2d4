"""Row-wise top-k of score matrices (dense or sparse), best first, with ``-1`` padding."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def topk_dense(
    scores: np.ndarray, k: int, min_score: float = -np.inf
) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries of each row, sorted descending.

    Entries that are not above ``min_score`` are reported as index ``-1`` (value ``-inf``), so a
    row with fewer than ``k`` real candidates is padded rather than filled with arbitrary ones.
    """
    scores = np.atleast_2d(scores)
    n, m = scores.shape
    k = min(k, m)
    if k <= 0:
        return np.empty((n, 0), np.int64), np.empty((n, 0), scores.dtype)
    part = (
        np.argpartition(-scores, k - 1, axis=1)[:, :k] if k < m else np.tile(np.arange(m), (n, 1))
    )
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    idx = np.take_along_axis(part, order, axis=1).astype(np.int64)
    vals = np.take_along_axis(vals, order, axis=1)
    bad = ~(vals > min_score)
    idx[bad] = -1
    vals = np.where(bad, -np.inf, vals)
    return idx, vals


def topk_sparse(scores: sp.csr_matrix, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` stored entries per row of a CSR matrix (absent entries never qualify)."""
    scores = sp.csr_matrix(scores)
    n = scores.shape[0]
    rows = np.repeat(np.arange(n), np.diff(scores.indptr))
    order = np.lexsort((-scores.data, rows))
    rank = np.arange(len(order)) - scores.indptr[rows[order]]
    keep = order[rank < k]
    idx = np.full((n, k), -1, np.int64)
    vals = np.full((n, k), -np.inf, scores.dtype if scores.dtype.kind == "f" else np.float64)
    r = rows[keep]
    pos = np.arange(len(keep)) - np.searchsorted(r, r)  # rank within the row of the kept entries
    idx[r, pos] = scores.indices[keep]
    vals[r, pos] = scores.data[keep]
    return idx, vals


def pair_lookup(
    matrix: sp.spmatrix, rows: np.ndarray, cols: np.ndarray, default: float = 0.0
) -> np.ndarray:
    """``matrix[rows[i], cols[i]]`` for many pairs at once; absent (or zero) entries give ``default``.

    Uses scipy's compiled CSR sampling: no per-pair Python, no dense copy.
    """
    m = matrix if sp.isspmatrix_csr(matrix) or isinstance(matrix, sp.csr_array) else None
    m = sp.csr_matrix(matrix) if m is None else m
    if not m.has_canonical_format:
        m = m.copy()
        m.sum_duplicates()
    rows = np.asarray(rows, dtype=np.int64)
    cols = np.asarray(cols, dtype=np.int64)
    out = np.full(len(rows), default, dtype=np.float64)
    ok = (cols >= 0) & (rows >= 0)
    if m.nnz == 0 or not ok.any():
        return out
    vals = np.asarray(m[rows[ok], cols[ok]], dtype=np.float64).ravel()
    out[ok] = np.where(vals != 0, vals, default)
    return out
