"""Full-ranking metrics from top-k index arrays and per-user relevant sets.

Everything is vectorised over users: a model's top-k lists arrive as one ``(n_users, k)`` integer
array of item indices, best first (``-1`` pads a list shorter than ``k``), and the held-out items
as one sparse ``n_users × n_items`` matrix whose non-zero entries are relevant (binary relevance).
The relevant matrix may have more columns than the model's catalogue: items seen only in the test
period get extra columns, so they count in ``|relevant|`` (recall, NDCG's ideal) but can never be
hit, exactly as in the Microsoft Recommenders evaluation.

Definitions (per user, ``hits_i`` = 1 if the item at rank ``i`` is relevant, ``R`` = number of
relevant items, all at cut-off ``K``):

- ``precision@K`` = sum(hits) / K
- ``recall@K`` = sum(hits) / R
- ``hit_rate@K`` = 1 if any hit
- ``ndcg@K`` = sum(hits_i / log2(i + 1)) / sum_{i <= min(R, K)} 1 / log2(i + 1)
- ``mrr@K`` = 1 / rank of the first hit (0 without one)
- ``map@K`` = sum(hits_i · precision@i) / R — Microsoft Recommenders' ``map`` and its
  ``map_at_k`` before release 1.2, the definition behind their published benchmark table;
- ``map_min@K`` = sum(hits_i · precision@i) / min(R, K) — Spark MLlib's and Microsoft
  Recommenders' ``map_at_k`` from 1.2 on (the common "AP@K" of Kaggle);
- ``pop_bias@K`` = mean training popularity of the K recommended items (with ``item_popularity``).

``coverage@K`` (share of the catalogue appearing in any top-K list) is a property of the whole
set of lists, so it has no per-user value.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.evaluation.stats import ConfidenceInterval, bootstrap_ci

PER_USER_METRICS = ("precision", "recall", "hit_rate", "ndcg", "mrr", "map", "map_min")
DEFAULT_METRICS = PER_USER_METRICS + ("coverage", "pop_bias")


@dataclass
class RankingReport:
    """Per-user metric values (users without relevant items dropped) plus catalogue-level ones.

    ``per_user[name]`` holds one value per evaluated user, aligned with ``users`` (row indices
    into the ``top_k`` array given); ``catalogue`` holds metrics with no per-user value.
    """

    per_user: dict[str, np.ndarray]
    users: np.ndarray
    catalogue: dict[str, float] = field(default_factory=dict)

    @property
    def n_users(self) -> int:
        return len(self.users)

    def means(self) -> dict[str, float]:
        """Mean over evaluated users of every per-user metric, plus the catalogue metrics."""
        out = {k: float(v.mean()) if len(v) else float("nan") for k, v in self.per_user.items()}
        out.update(self.catalogue)
        return out

    def confidence_intervals(
        self, n: int = 1000, seed: int = 0, level: float = 0.95
    ) -> dict[str, ConfidenceInterval]:
        """Percentile-bootstrap interval of each per-user mean (users resampled)."""
        return {k: bootstrap_ci(v, n=n, seed=seed, level=level) for k, v in self.per_user.items()}


def hits_matrix(top_k: np.ndarray, relevant: sp.spmatrix) -> np.ndarray:
    """Boolean ``(n_users, k)``: is the item at each rank relevant to that row's user.

    Vectorised as one sorted-key lookup: every (user, item) pair becomes ``user * n_cols + item``,
    and the relevant pairs of a CSR matrix with sorted indices are already in key order.
    """
    top_k = _check_top_k(top_k)
    rel = _check_relevant(relevant, top_k)
    n, m = rel.shape
    rows = np.repeat(np.arange(n, dtype=np.int64), np.diff(rel.indptr))
    keys = rows * m + rel.indices.astype(np.int64)
    query = np.arange(n, dtype=np.int64)[:, None] * m + top_k
    if len(keys) == 0:
        return np.zeros(top_k.shape, dtype=bool)
    pos = np.minimum(np.searchsorted(keys, query), len(keys) - 1)
    return (keys[pos] == query) & (top_k >= 0)


def _check_options(
    top_k: np.ndarray,
    ks: int | Sequence[int],
    metrics: Iterable[str],
    item_popularity: np.ndarray | None,
) -> tuple[list[int], list[str], np.ndarray | None]:
    """The cut-offs, metric names and popularity of :func:`ranking_metrics`, checked."""
    ks = [ks] if isinstance(ks, (int, np.integer)) else list(ks)
    if not ks or any(
        not isinstance(k, (int, np.integer)) or k < 1 or k > top_k.shape[1] for k in ks
    ):
        raise ValidationError(
            f"ks must be integers in 1..{top_k.shape[1]} (the list length), got {ks}"
        )
    metrics = list(metrics)
    unknown = set(metrics) - set(DEFAULT_METRICS)
    if unknown:
        raise ValidationError(
            f"unknown metric(s) {sorted(unknown)}; expected some of {DEFAULT_METRICS}"
        )
    if "pop_bias" in metrics and item_popularity is None:
        metrics.remove("pop_bias")
    if item_popularity is not None:
        item_popularity = np.asarray(item_popularity, dtype=np.float64)
        if top_k.size and top_k.max() >= len(item_popularity):
            raise ValidationError(
                f"item_popularity has {len(item_popularity)} entries but top_k holds index "
                f"{top_k.max()}"
            )
    return ks, metrics, item_popularity


def ranking_metrics(
    top_k: np.ndarray,
    relevant: sp.spmatrix,
    ks: int | Sequence[int] = (10,),
    metrics: Iterable[str] = DEFAULT_METRICS,
    n_items: int | None = None,
    item_popularity: np.ndarray | None = None,
) -> RankingReport:
    """Full-ranking metrics of top-k lists against held-out relevant items.

    Parameters
    ----------
    top_k
        ``(n_users, k)`` item indices, best first; ``-1`` pads a shorter list.
    relevant
        ``n_users × n_cols`` sparse matrix, non-zero = relevant; ``n_cols`` may exceed the
        catalogue (test-only items).
    ks
        Cut-offs, each at most ``k``.
    metrics
        Names from :data:`DEFAULT_METRICS`; ``pop_bias`` needs ``item_popularity``.
    n_items
        Catalogue size for ``coverage`` (default: the number of columns of ``relevant``).
    item_popularity
        Per catalogue item popularity (e.g. share of training users), for ``pop_bias``.

    Users without any relevant item are left out (as in Microsoft Recommenders); ``users`` in the
    report says which rows were kept.
    """
    top_k = _check_top_k(top_k)
    rel = _check_relevant(relevant, top_k)
    ks, metrics, item_popularity = _check_options(top_k, ks, metrics, item_popularity)
    n_items = rel.shape[1] if n_items is None else int(n_items)

    n_rel_all = np.diff(rel.indptr)
    keep = np.flatnonzero(n_rel_all > 0)
    hits_all = hits_matrix(top_k, rel)
    hits = hits_all[keep].astype(np.float64)
    n_rel = n_rel_all[keep].astype(np.float64)
    ranks = np.arange(1, top_k.shape[1] + 1, dtype=np.float64)
    discount = 1.0 / np.log2(ranks + 1.0)
    ideal = np.cumsum(discount)
    precision_at_i = np.cumsum(hits, axis=1) / ranks

    per_user: dict[str, np.ndarray] = {}
    catalogue: dict[str, float] = {}
    for k in ks:
        h = hits[:, :k]
        n_hits = h.sum(axis=1)
        if "precision" in metrics:
            per_user[f"precision@{k}"] = n_hits / k
        if "recall" in metrics:
            per_user[f"recall@{k}"] = n_hits / n_rel
        if "hit_rate" in metrics:
            per_user[f"hit_rate@{k}"] = (n_hits > 0).astype(np.float64)
        if "ndcg" in metrics:
            idcg = ideal[np.minimum(n_rel, k).astype(np.int64) - 1]
            per_user[f"ndcg@{k}"] = (h * discount[:k]).sum(axis=1) / idcg
        if "mrr" in metrics:
            first = np.argmax(h, axis=1)
            per_user[f"mrr@{k}"] = np.where(n_hits > 0, 1.0 / (first + 1.0), 0.0)
        if "map" in metrics or "map_min" in metrics:
            ap_sum = (precision_at_i[:, :k] * h).sum(axis=1)
            if "map" in metrics:
                per_user[f"map@{k}"] = ap_sum / n_rel
            if "map_min" in metrics:
                per_user[f"map_min@{k}"] = ap_sum / np.minimum(n_rel, k)
        if "pop_bias" in metrics:
            idx = top_k[keep, :k]
            valid = idx >= 0
            pop = np.where(valid, item_popularity[np.where(valid, idx, 0)], 0.0)
            per_user[f"pop_bias@{k}"] = pop.sum(axis=1) / np.maximum(valid.sum(axis=1), 1)
        if "coverage" in metrics:
            shown = top_k[:, :k]
            catalogue[f"coverage@{k}"] = len(np.unique(shown[shown >= 0])) / n_items
    return RankingReport(per_user=per_user, users=keep, catalogue=catalogue)


def _check_top_k(top_k: np.ndarray) -> np.ndarray:
    top_k = np.asarray(top_k)
    if top_k.ndim != 2 or not np.issubdtype(top_k.dtype, np.integer):
        raise ValidationError(
            f"top_k must be a 2-d integer array (users × k), got {top_k.dtype} {top_k.shape}"
        )
    top_k = top_k.astype(np.int64, copy=False)
    if top_k.size and top_k.min() < -1:
        raise ValidationError("top_k holds negative indices other than -1 (the padding value)")
    # a repeated item in one list would be counted twice
    s = np.sort(top_k, axis=1)
    dup = (s[:, 1:] == s[:, :-1]) & (s[:, 1:] >= 0)
    if dup.any():
        row = int(np.flatnonzero(dup.any(axis=1))[0])
        raise ValidationError(f"top_k row {row} recommends an item twice: {top_k[row].tolist()}")
    return top_k


def _check_relevant(relevant: sp.spmatrix, top_k: np.ndarray) -> sp.csr_matrix:
    if not sp.issparse(relevant):
        raise ValidationError(
            f"relevant must be a scipy sparse matrix, got {type(relevant).__name__}"
        )
    rel = sp.csr_matrix(relevant, copy=True)
    rel.sum_duplicates()
    rel.eliminate_zeros()
    rel.sort_indices()
    if rel.shape[0] != top_k.shape[0]:
        raise ValidationError(f"relevant has {rel.shape[0]} rows but top_k has {top_k.shape[0]}")
    if top_k.size and top_k.max() >= rel.shape[1]:
        raise ValidationError(
            f"top_k holds item index {top_k.max()} but relevant has {rel.shape[1]} columns"
        )
    return rel
