"""Session-based k-nearest neighbours: SKNN and V-SKNN (Ludewig & Jannach, UMUAI 2018).

Each training "user" is a session. For the current session, past sessions that share an item
with it are the candidates; the ``sample_size`` most recent of them are kept (recent sessions
reflect the current shop, and the cap bounds the work); among those the ``k_neighbours`` most
similar are the neighbours, and an item scores the summed similarity of the neighbours that
contain it. Ludewig et al. ("Empirical analysis of session-based recommendation algorithms",
2021) found these simple methods match or beat most neural session models.

Everything is sparse matrix work over a batch of sessions: the overlap with every training
session is one product ``Q @ S.T``, the sampling and neighbour cuts are per-row top-k on the
non-zeros, and the scores are one more product ``W @ S``.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.core.space import Choice, IntRange
from shopml.recommend.base import Batch, Recommender
from shopml.recommend.interactions import Interactions
from shopml.recommend.knn import _top_per_row

POSITION_WEIGHTINGS = ("none", "linear", "inverse")


class SessionKNN(Recommender):
    """SKNN (``position_weighting='none'``) and V-SKNN (``'linear'`` or ``'inverse'``).

    Parameters
    ----------
    k_neighbours : neighbour sessions whose items are scored.
    sample_size : candidate sessions considered, the most recent ones sharing an item with the
        current session (``None``: all of them).
    position_weighting : how much each item of the current session counts in the similarity;
        V-SKNN's idea is that the latest clicks say most about the next one. With ``L`` items,
        the item at position ``p`` (1 = oldest) weighs ``1`` (``'none'``), ``p / L``
        (``'linear'``) or ``1 / (L - p + 1)`` (``'inverse'``); an item seen twice keeps its
        latest weight.

    The similarity is the cosine of the weighted current-session vector and the neighbour's
    binary vector. Fit with sessions as users, e.g. ``fit(views, user_col="session_id")``; score
    a live session with ``recommend_for_history(items_so_far)``. A known training session is
    never its own neighbour.
    """

    #: declared for hyper-parameter search (shopml.core.space; Ray Tune via shopml.distributed)
    search_space = {
        "k_neighbours": IntRange(10, 500, log=True),
        "sample_size": IntRange(100, 5000, log=True),
        "position_weighting": Choice(POSITION_WEIGHTINGS),
    }

    batch_size = 1024

    def __init__(
        self,
        k_neighbours: int = 100,
        sample_size: int | None = 500,
        position_weighting: str = "linear",
    ) -> None:
        self.k_neighbours = k_neighbours
        self.sample_size = sample_size
        self.position_weighting = position_weighting

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        for name in ("k_neighbours", "sample_size"):
            value = getattr(self, name)
            if name == "sample_size" and value is None:
                continue
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise ValidationError(f"{name} must be a positive integer, got {value!r}")
        if self.position_weighting not in POSITION_WEIGHTINGS:
            raise ValidationError(
                f"position_weighting={self.position_weighting!r}; expected one of {POSITION_WEIGHTINGS}"
            )
        seq = data.sequences  # sorted by session, then time
        last_ts = np.full(X.shape[0], np.iinfo(np.int64).min, dtype=np.int64)
        np.maximum.at(last_ts, seq["user"].to_numpy(), seq["ts"].to_numpy().astype(np.int64))
        # recency as a rank (1 = oldest session): positive, so it can drive a top-k cut
        self._set_state({"recency": np.argsort(np.argsort(last_ts, kind="stable")) + 1})

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        self.recency_ = np.asarray(arrays["recency"], dtype=np.int64)
        if "seq_items" in arrays:  # ``load`` rebuilds sequences without time order: restore it
            self._user_sequences_ = np.split(arrays["seq_items"], arrays["seq_indptr"][1:-1])
        S = self.train_.copy()
        S.data = np.ones_like(S.data)
        self._sessions_ = S.tocsr().astype(np.float64)
        self._sessions_T_ = self._sessions_.T.tocsr()
        self._session_norms_ = np.sqrt(np.diff(S.indptr)).astype(np.float64)

    def _get_state(self) -> dict[str, np.ndarray]:
        seqs = self._user_sequences_
        lens = np.fromiter((len(q) for q in seqs), dtype=np.int64, count=len(seqs))
        return {
            "recency": self.recency_,
            "seq_items": np.concatenate(seqs).astype(np.int64),
            "seq_indptr": np.concatenate([[0], np.cumsum(lens)]),
        }

    def _query(self, batch: Batch) -> sp.csr_matrix:
        """Position-weighted current-session vectors (a repeated item keeps its latest weight)."""
        n_items = self.train_.shape[1]
        lengths = np.fromiter((len(s) for s in batch.sequences), np.int64, len(batch.sequences))
        if lengths.sum() == 0:
            return sp.csr_matrix((len(lengths), n_items), dtype=np.float64)
        rows = np.repeat(np.arange(len(lengths)), lengths)
        items = np.concatenate(batch.sequences).astype(np.int64)
        pos = np.arange(len(rows)) - np.repeat(np.cumsum(lengths) - lengths, lengths) + 1
        L = lengths[rows].astype(np.float64)
        if self.position_weighting == "linear":
            w = pos / L
        elif self.position_weighting == "inverse":
            w = 1.0 / (L - pos + 1)
        else:
            w = np.ones(len(rows))
        return _row_max(rows, items, w, (len(lengths), n_items))

    def _score(self, batch: Batch) -> np.ndarray:
        n = len(batch.user_idx)
        n_sessions = self.train_.shape[0]
        Q = self._query(batch)
        overlap = (Q @ self._sessions_T_).tocoo()
        r, c, v = overlap.row, overlap.col, overlap.data
        own = batch.user_idx[r] == c  # a known session is not its own neighbour
        r, c, v = r[~own], c[~own], v[~own]
        if self.sample_size is not None:
            keep = _rank_in_row(r, self.recency_[c]) < self.sample_size
            r, c, v = r[keep], c[keep], v[keep]
        qnorm = np.sqrt(np.asarray(Q.multiply(Q).sum(axis=1)).ravel())
        sim = v / (qnorm[r] * self._session_norms_[c] + 1e-12)
        W = _top_per_row(r, c, sim, n, n_sessions, int(self.k_neighbours))
        scores = np.asarray((W @ self._sessions_).todense(), dtype=np.float32)
        return self._popularity_fallback(scores, batch)


def _row_max(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]) -> sp.csr_matrix:
    """Sparse matrix holding, for each (row, col), the largest of its values (a weight grows
    with position, so this keeps an item's latest weight)."""
    order = np.lexsort((-vals, cols, rows))
    r, c, v = rows[order], cols[order], vals[order]
    first = np.ones(len(r), dtype=bool)
    first[1:] = (r[1:] != r[:-1]) | (c[1:] != c[:-1])
    return sp.csr_matrix((v[first], (r[first], c[first])), shape=shape)


def _rank_in_row(rows: np.ndarray, key: np.ndarray) -> np.ndarray:
    """Rank of each entry within its row by descending ``key`` (0 = largest)."""
    order = np.lexsort((-key, rows))
    sorted_rows = rows[order]
    starts = np.searchsorted(sorted_rows, sorted_rows, side="left")
    rank = np.empty(len(rows), dtype=np.int64)
    rank[order] = np.arange(len(rows)) - starts
    return rank
