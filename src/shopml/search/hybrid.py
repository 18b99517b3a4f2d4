"""Hybrid fusion of lexical and semantic rankings.

Reciprocal rank fusion (Cormack, Clarke & Buettcher 2009) needs no training: a document's fused
score is ``sum_j w_j / (k + rank_j)``. :class:`LinearFusion` learns instead how much each
retriever's (per-query normalised) score counts, choosing the weights on a simplex grid that
maximise NDCG@k on judged queries.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import NotFittedError, ValidationError
from shopml.search.metrics import ndcg_grouped
from shopml.search.topk import topk_sparse


def rrf_scores(
    rank_lists: Sequence[np.ndarray],
    n_docs: int,
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> sp.csr_matrix:
    """Fused scores (queries x documents) of ranked lists (each queries x depth, ``-1`` padded)."""
    if not rank_lists:
        raise ValidationError("rrf needs at least one ranked list")
    weights = [1.0] * len(rank_lists) if weights is None else list(weights)
    if len(weights) != len(rank_lists):
        raise ValidationError(f"{len(weights)} weights for {len(rank_lists)} ranked lists")
    n_q = rank_lists[0].shape[0]
    rows, cols, vals = [], [], []
    for lst, w in zip(rank_lists, weights, strict=True):
        lst = np.asarray(lst)
        if lst.shape[0] != n_q:
            raise ValidationError(
                f"ranked lists cover different numbers of queries: {lst.shape[0]} vs {n_q}"
            )
        r = np.repeat(np.arange(n_q), lst.shape[1])
        rank = np.tile(np.arange(1, lst.shape[1] + 1), n_q)
        ok = lst.ravel() >= 0
        rows.append(r[ok])
        cols.append(lst.ravel()[ok])
        vals.append(w / (k + rank[ok]))
    m = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_q, n_docs)
    )
    m.sum_duplicates()  # a document in several lists gets the sum of its contributions
    return m


def reciprocal_rank_fusion(
    rank_lists: Sequence[np.ndarray],
    n_docs: int,
    top: int = 10,
    k: int = 60,
    weights: Sequence[float] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-``top`` documents per query by reciprocal rank fusion: (indices, fused scores)."""
    return topk_sparse(rrf_scores(rank_lists, n_docs, k, weights), top)


def rrf_pairs(ranks: np.ndarray, k: int = 60, weights: Sequence[float] | None = None) -> np.ndarray:
    """RRF score of pairs from their 1-based ranks (pairs x retrievers; NaN or inf = not ranked)."""
    ranks = np.asarray(ranks, dtype=np.float64)
    w = np.ones(ranks.shape[1]) if weights is None else np.asarray(weights, dtype=np.float64)
    contrib = np.where(np.isfinite(ranks), 1.0 / (k + np.nan_to_num(ranks, nan=np.inf)), 0.0)
    return contrib @ w


def minmax_by_group(x: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Scale each column to [0, 1] within each group (a constant column becomes 0)."""
    df = pd.DataFrame(np.asarray(x, dtype=np.float64))
    g = df.groupby(np.asarray(group))
    lo, hi = g.transform("min").to_numpy(), g.transform("max").to_numpy()
    span = hi - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(span > 0, (df.to_numpy() - lo) / span, 0.0)


class LinearFusion:
    """Learned weighting of retriever scores: ``sum_j w_j * minmax_q(score_j)``, weights on a simplex.

    Parameters
    ----------
    step : float
        Grid step of the weights (they sum to one).
    k : int
        The NDCG cut-off the weights maximise.
    """

    def __init__(self, step: float = 0.05, k: int = 10) -> None:
        self.step = step
        self.k = k

    def fit(self, scores: np.ndarray, group: np.ndarray, gain: np.ndarray) -> LinearFusion:
        """Choose the weights that maximise mean NDCG@k over the groups (queries)."""
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or len(scores) != len(group) or len(group) != len(gain):
            raise ValidationError(
                f"scores must be (pairs x retrievers) matching group and gain, got {scores.shape}, "
                f"{len(group)} groups, {len(gain)} gains"
            )
        if not 0 < self.step <= 1:
            raise ValidationError(f"step must be in (0, 1], got {self.step}")
        z = minmax_by_group(scores, group)
        m = z.shape[1]
        n = int(round(1 / self.step))
        grid = [c for c in itertools.product(range(n + 1), repeat=m - 1) if sum(c) <= n]
        best, best_w = -np.inf, None
        codes = pd.factorize(np.asarray(group))[0]
        for c in grid:
            w = np.array([*c, n - sum(c)], dtype=np.float64) / n
            val = np.nanmean(ndcg_grouped(codes, z @ w, gain, self.k))
            if val > best + 1e-12:
                best, best_w = val, w
        self.weights_ = best_w
        self.train_ndcg_ = float(best)
        return self

    def predict(self, scores: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Fused scores of pairs."""
        if not hasattr(self, "weights_"):
            raise NotFittedError("LinearFusion is not fitted: call fit first")
        scores = np.asarray(scores, dtype=np.float64)
        if scores.ndim != 2 or scores.shape[1] != len(self.weights_):
            raise ValidationError(
                f"expected (pairs x {len(self.weights_)}) scores, got {scores.shape}"
            )
        return minmax_by_group(scores, group) @ self.weights_
