"""Graded ranking metrics for search, over pairs in long form or over top-k lists.

Queries are integer codes ``0..n_queries-1``. Gains are graded (Home Depot: relevance - 1, so
"not relevant" gains nothing); NDCG uses linear gains and the ``log2(rank + 1)`` discount. A query
whose ideal DCG is zero has no NDCG (NaN) and is left out of means.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.search.topk import pair_lookup


def _discount(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def rank_within(group: np.ndarray, score: np.ndarray, seed: int | None = 0) -> np.ndarray:
    """0-based rank of each row within its group by descending score.

    Ties are broken by a seeded random permutation, never by input order (which may leak labels).
    """
    group = np.asarray(group)
    score = np.asarray(score, dtype=np.float64)
    if group.shape != score.shape:
        raise ValidationError(f"group and score differ in shape: {group.shape} vs {score.shape}")
    tie = (
        np.random.default_rng(seed).permutation(len(score))
        if seed is not None
        else np.arange(len(score))
    )
    order = np.lexsort((tie, -np.nan_to_num(score, nan=-np.inf), group))
    g = group[order]
    start = np.searchsorted(g, g)  # first position of each row's group in sorted order
    rank = np.empty(len(order), np.int64)
    rank[order] = np.arange(len(order)) - start
    return rank


def ndcg_grouped(
    group: np.ndarray,
    score: np.ndarray,
    gain: np.ndarray,
    k: int = 10,
    n_groups: int | None = None,
    seed: int | None = 0,
) -> np.ndarray:
    """NDCG@k per group of the ranking by ``score`` of the group's rows, ideal from the same rows."""
    group = np.asarray(group, dtype=np.int64)
    gain = np.asarray(gain, dtype=np.float64)
    n = int(group.max()) + 1 if n_groups is None and len(group) else (n_groups or 0)
    disc = _discount(k)
    rank = rank_within(group, score, seed)
    ideal = rank_within(group, gain, seed)
    top, itop = rank < k, ideal < k
    dcg = np.bincount(group[top], gain[top] * disc[rank[top]], minlength=n)
    idcg = np.bincount(group[itop], gain[itop] * disc[ideal[itop]], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, dcg / idcg, np.nan)


def gains_at(top: np.ndarray, gains: sp.csr_matrix) -> np.ndarray:
    """The gain of each listed document (``-1`` padding gains 0): shape of ``top``."""
    top = np.asarray(top)
    rows = np.repeat(np.arange(top.shape[0]), top.shape[1])
    return pair_lookup(gains, rows, top.ravel()).reshape(top.shape)


def ndcg_lists(top: np.ndarray, gains: sp.csr_matrix, k: int = 10) -> np.ndarray:
    """NDCG@k of top-k lists (queries x K) against graded judgements (queries x documents).

    Unjudged documents gain 0; the ideal DCG comes from all of the query's judgements.
    """
    top = np.asarray(top)[:, :k]
    disc = _discount(k)
    dcg = gains_at(top, gains) @ disc[: top.shape[1]]
    g = sp.csr_matrix(gains)
    n = g.shape[0]
    rows = np.repeat(np.arange(n), np.diff(g.indptr))
    ideal_rank = rank_within(rows, g.data, seed=None)
    keep = ideal_rank < k
    idcg = np.bincount(rows[keep], g.data[keep] * disc[ideal_rank[keep]], minlength=n)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(idcg > 0, dcg / idcg, np.nan)


def recall_lists(top: np.ndarray, relevant: sp.csr_matrix, k: int) -> np.ndarray:
    """Recall@k per query: share of the query's relevant documents in its top-k (NaN if none)."""
    hits = gains_at(np.asarray(top)[:, :k], (sp.csr_matrix(relevant) > 0).astype(np.float64))
    n_rel = np.diff(sp.csr_matrix(relevant > 0).indptr)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_rel > 0, hits.sum(axis=1) / n_rel, np.nan)


def rmse(pred: np.ndarray, target: np.ndarray) -> float:
    """Root mean squared error."""
    pred, target = np.asarray(pred, np.float64), np.asarray(target, np.float64)
    return float(np.sqrt(np.mean((pred - target) ** 2)))
