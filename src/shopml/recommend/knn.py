"""Neighbourhood recommenders: ItemKNN (cosine with shrinkage) and UserKNN (Pearson correlation).

Both are sparse matrix products; no Python loop over users or items in fitting or scoring.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.core.space import IntRange, Uniform
from shopml.recommend.base import Batch, Recommender
from shopml.recommend.interactions import Interactions

# items per block when building the item-item similarity, bounding the memory of X^T X
_ITEM_BLOCK = 2048


class ItemKNN(Recommender):
    """Item-based k-nearest neighbours (Sarwar et al. 2001; Deshpande & Karypis 2004).

    ``sim(i, j) = x_i · x_j / (|x_i| |x_j| + shrinkage)`` over the item columns of the training
    matrix; shrinkage pulls similarities resting on few co-occurrences towards zero. Each item
    keeps only its ``k_neighbours`` most similar items, and a user's score for item ``i`` is
    ``sum_j x_uj · sim(j, i)`` over the items ``j`` of their history that have ``i`` among their
    neighbours.
    """

    #: declared for hyper-parameter search (shopml.core.space; Ray Tune via shopml.distributed)
    search_space = {"k_neighbours": IntRange(10, 1000, log=True), "shrinkage": Uniform(0.0, 50.0)}

    def __init__(self, k_neighbours: int = 100, shrinkage: float = 10.0) -> None:
        self.k_neighbours = k_neighbours
        self.shrinkage = shrinkage

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        if not isinstance(self.k_neighbours, (int, np.integer)) or self.k_neighbours < 1:
            raise ValidationError(
                f"k_neighbours must be a positive integer, got {self.k_neighbours!r}"
            )
        if self.shrinkage < 0:
            raise ValidationError(f"shrinkage must be >= 0, got {self.shrinkage}")
        Xc = X.astype(np.float32).tocsc()
        norms = np.sqrt(np.asarray(Xc.multiply(Xc).sum(axis=0)).ravel())
        n = X.shape[1]
        blocks = []
        for start in range(0, n, _ITEM_BLOCK):
            stop = min(start + _ITEM_BLOCK, n)
            S = (Xc[:, start:stop].T @ Xc).tocoo()  # co-occurrence of this block's items with all
            rows = S.row + start
            keep = rows != S.col  # an item is not its own neighbour
            rows, cols, vals = rows[keep], S.col[keep], S.data[keep]
            vals = vals / (norms[rows] * norms[cols] + self.shrinkage + 1e-12)
            blocks.append(
                _top_per_row(rows - start, cols, vals, stop - start, n, self.k_neighbours)
            )
        self.similarity_ = sp.vstack(blocks, format="csr").astype(np.float32)

    def _score(self, batch: Batch) -> np.ndarray:
        scores = np.asarray((batch.histories @ self.similarity_).todense(), dtype=np.float32)
        return self._popularity_fallback(scores, batch)

    def _item_similarity(self, item_idx: np.ndarray) -> np.ndarray:
        # column i of the pruned similarity: how much each item contributes to i's score, so
        # ``explain`` names exactly the history items that produced a recommendation
        return np.asarray(self.similarity_[:, np.asarray(item_idx)].T.todense(), dtype=np.float32)

    def _get_state(self) -> dict[str, np.ndarray]:
        S = self.similarity_
        return {"sim_data": S.data, "sim_indices": S.indices, "sim_indptr": S.indptr}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        n = self.train_.shape[1]
        self.similarity_ = sp.csr_matrix(
            (arrays["sim_data"], arrays["sim_indices"], arrays["sim_indptr"]), shape=(n, n)
        )


class UserKNN(Recommender):
    """User-based k-nearest neighbours with Pearson correlation (Herlocker et al. 1999).

    The correlation is taken over users' full interaction vectors (unobserved = 0), which stays
    defined for binary implicit feedback, where the co-rated-items Pearson is degenerate (every
    observed value equals the mean). ``shrinkage`` multiplies each correlation by
    ``n_common / (n_common + shrinkage)`` (significance weighting); a user's score for an item is
    ``sum_v corr(u, v) · x_vi`` over their ``k_neighbours`` most correlated users with positive
    correlation. Memory-based: a new user is scored from their history with no retraining.
    """

    #: declared for hyper-parameter search (shopml.core.space; Ray Tune via shopml.distributed)
    search_space = {"k_neighbours": IntRange(10, 500, log=True), "shrinkage": Uniform(0.0, 50.0)}

    batch_size = 512  # rows × all users correlations are dense per batch

    def __init__(self, k_neighbours: int = 50, shrinkage: float = 10.0) -> None:
        self.k_neighbours = k_neighbours
        self.shrinkage = shrinkage

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        if not isinstance(self.k_neighbours, (int, np.integer)) or self.k_neighbours < 1:
            raise ValidationError(
                f"k_neighbours must be a positive integer, got {self.k_neighbours!r}"
            )
        if self.shrinkage < 0:
            raise ValidationError(f"shrinkage must be >= 0, got {self.shrinkage}")
        self._set_state({})

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        # nothing learned beyond the training matrix itself: derive the moments from it
        X = self.train_
        self._XT_ = X.T.tocsr().astype(np.float64)
        self._BT_ = (X != 0).T.tocsr().astype(np.float64)
        self.mean_, self.std_ = _row_moments(X)

    def _score(self, batch: Batch) -> np.ndarray:
        H = batch.histories.astype(np.float64)
        n_items = H.shape[1]
        mean_b, std_b = _row_moments(H)
        cov = np.asarray((H @ self._XT_).todense()) / n_items - np.outer(mean_b, self.mean_)
        denom = np.outer(std_b, self.std_)
        corr = np.divide(cov, denom, out=np.zeros_like(cov), where=denom > 0)
        if self.shrinkage > 0:
            common = np.asarray(((H != 0).astype(np.float64) @ self._BT_).todense())
            corr *= common / (common + self.shrinkage)
        known = np.flatnonzero(batch.user_idx >= 0)
        corr[known, batch.user_idx[known]] = 0.0  # a user is not their own neighbour
        k = min(self.k_neighbours, corr.shape[1])
        nbr = np.argpartition(-corr, k - 1, axis=1)[:, :k]
        w = np.take_along_axis(corr, nbr, axis=1)
        w = np.where(w > 0, w, 0.0)
        W = sp.csr_matrix((w.ravel(), nbr.ravel(), np.arange(0, w.size + 1, k)), shape=corr.shape)
        scores = np.asarray((W @ self.train_).todense(), dtype=np.float32)
        return self._popularity_fallback(scores, batch)


class TIFUKNN(Recommender):
    """Personal item frequency plus neighbours, after TIFU-KNN (Hu et al., SIGIR 2020).

    Built for shops where customers buy again. Each user is a recency-weighted frequency vector
    over items: the ``j``-th most recent interaction weighs ``decay ** j`` and the vector is
    divided by the total weight (repeat purchases count every time). A user's scores are
    ``self_weight · v_u + (1 - self_weight) · mean(v_n)`` over their ``k_neighbours`` most
    cosine-similar users. With ``exclude_seen`` the personal part only breaks ties, so the model
    then acts as a recency-aware UserKNN. Simplification of the paper: decay per interaction
    rather than per basket group (the interaction log has no basket boundaries).
    """

    batch_size = 512  # rows × all users similarities are dense per batch

    def __init__(
        self, k_neighbours: int = 100, self_weight: float = 0.7, decay: float = 0.95
    ) -> None:
        self.k_neighbours = k_neighbours
        self.self_weight = self_weight
        self.decay = decay

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        if not isinstance(self.k_neighbours, (int, np.integer)) or self.k_neighbours < 1:
            raise ValidationError(
                f"k_neighbours must be a positive integer, got {self.k_neighbours!r}"
            )
        if not 0 <= self.self_weight <= 1:
            raise ValidationError(f"self_weight must be in [0, 1], got {self.self_weight}")
        if not 0 < self.decay <= 1:
            raise ValidationError(f"decay must be in (0, 1], got {self.decay}")
        seq = data.sequences  # sorted by user, then time
        users = seq["user"].to_numpy().astype(np.int64)
        lengths = np.bincount(users, minlength=X.shape[0])
        self.user_vectors_ = _decayed_vectors(
            users, seq["item"].to_numpy(), lengths, X.shape, self.decay
        )
        self._normed_ = _l2_rows(self.user_vectors_)

    def _score(self, batch: Batch) -> np.ndarray:
        n_items = self.train_.shape[1]
        # known users keep the vectors built at fit, in exact time order (``load`` keeps no times);
        # only unseen visitors' vectors are built from their sequences here
        is_known = batch.user_idx >= 0
        lengths = np.array(
            [0 if k else len(s) for k, s in zip(is_known, batch.sequences, strict=True)],
            dtype=np.int64,
        )
        rows = np.repeat(np.arange(len(lengths)), lengths)
        items = (
            np.concatenate([s for k, s in zip(is_known, batch.sequences, strict=True) if not k])
            if len(rows)
            else np.empty(0, np.int64)
        )
        from_history = _decayed_vectors(rows, items, lengths, (len(lengths), n_items), self.decay)
        stored = self.user_vectors_[np.where(is_known, batch.user_idx, 0)]
        V = (
            sp.diags(is_known.astype(np.float64)) @ stored
            + sp.diags((~is_known).astype(np.float64)) @ from_history
        ).tocsr()
        known = np.flatnonzero(is_known)
        Vn = _l2_rows(V)
        sims = np.asarray((Vn @ self._normed_.T).todense())
        sims[known, batch.user_idx[known]] = -np.inf  # a user is not their own neighbour
        k = min(self.k_neighbours, sims.shape[1])
        nbr = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        W = sp.csr_matrix(
            (np.full(nbr.size, 1.0 / k), nbr.ravel(), np.arange(0, nbr.size + 1, k)),
            shape=sims.shape,
        )
        scores = self.self_weight * V.toarray() + (1 - self.self_weight) * np.asarray(
            (W @ self.user_vectors_).todense()
        )
        return self._popularity_fallback(scores.astype(np.float32), batch)

    def _get_state(self) -> dict[str, np.ndarray]:
        V = self.user_vectors_
        return {
            "user_vectors_data": V.data,
            "user_vectors_indices": V.indices,
            "user_vectors_indptr": V.indptr,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        self.user_vectors_ = sp.csr_matrix(
            (
                arrays["user_vectors_data"],
                arrays["user_vectors_indices"],
                arrays["user_vectors_indptr"],
            ),
            shape=self.train_.shape,
        )
        self._normed_ = _l2_rows(self.user_vectors_)


def _decayed_vectors(
    rows: np.ndarray, items: np.ndarray, lengths: np.ndarray, shape: tuple[int, int], decay: float
) -> sp.csr_matrix:
    """Rows of recency-weighted item frequencies: interaction ``j`` from the end weighs
    ``decay ** j``; each row sums to one. ``rows``/``items`` are grouped by row, oldest first."""
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    pos = np.arange(len(rows)) - starts[rows] if len(rows) else np.empty(0, np.int64)
    w = np.power(decay, (lengths[rows] - 1 - pos).astype(np.float64))
    V = sp.csr_matrix((w, (rows, items)), shape=shape)
    V.sum_duplicates()
    total = np.asarray(V.sum(axis=1)).ravel()
    return (sp.diags(np.divide(1.0, total, out=np.zeros_like(total), where=total > 0)) @ V).tocsr()


def _l2_rows(V: sp.csr_matrix) -> sp.csr_matrix:
    norms = np.sqrt(np.asarray(V.multiply(V).sum(axis=1)).ravel())
    return (sp.diags(np.divide(1.0, norms, out=np.zeros_like(norms), where=norms > 0)) @ V).tocsr()


def _row_moments(X: sp.csr_matrix) -> tuple[np.ndarray, np.ndarray]:
    """Mean and (population) standard deviation of each row over all columns, zeros included."""
    n = X.shape[1]
    s = np.asarray(X.sum(axis=1), dtype=np.float64).ravel()
    sq = np.asarray(X.multiply(X).sum(axis=1), dtype=np.float64).ravel()
    mean = s / n
    return mean, np.sqrt(np.maximum(sq / n - mean**2, 0.0))


def _top_per_row(
    rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, n_rows: int, n_cols: int, k: int
) -> sp.csr_matrix:
    """Sparse ``n_rows × n_cols`` keeping the ``k`` largest positive values of each row."""
    pos = vals > 0
    rows, cols, vals = rows[pos], cols[pos], vals[pos]
    order = np.lexsort((-vals, rows))  # by row, best first within a row
    rows, cols, vals = rows[order], cols[order], vals[order]
    starts = np.searchsorted(rows, np.arange(n_rows))
    rank = np.arange(len(rows)) - starts[rows]
    keep = rank < k
    return sp.csr_matrix((vals[keep], (rows[keep], cols[keep])), shape=(n_rows, n_cols))
