"""The one contract every recommender follows.

Public methods validate and translate ids; subclasses implement only the private hooks:

- ``_fit(X: csr users×items, data: Interactions)`` learns state (attributes ending in ``_``);
- ``_score(batch: Batch) -> ndarray (n, n_items)`` scores every item for each row of a batch.
  A row is a known user (``user_idx >= 0``) or an unseen one known only by history
  (``user_idx == -1``: ``recommend_for_history``); ``batch.histories`` (CSR) and
  ``batch.sequences`` (time-ordered item arrays) hold what each row did;
- ``_get_state() / _set_state(arrays, meta)`` (and ``_meta`` / ``_save_files``, the
  :class:`~shopml.core.estimator.Estimator` hooks) expose learned state for ``save``/``load``;
- optionally ``_item_vectors()`` (embeddings for ``similar_items``/``explain``).

Everything else — seen-item exclusion, business filters, top-k with ``argpartition``, batching
over users, explanations — lives here once, so every model gets it and the shared contract tests
check it for every model. Parameters, repr, the fitted check and persistence (``model.json`` with
the ``shopml.model/1`` tag + ``arrays.npz`` read with ``allow_pickle=False``) come from
:class:`~shopml.core.estimator.Estimator`; the vocabularies, the training matrix, the per-user
sequences (in time order) and item categories are saved here for every model.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import NotFittedError, ShopMLError, ValidationError
from shopml.core.estimator import Estimator
from shopml.core.vocab import Vocab
from shopml.recommend.interactions import Interactions


@dataclass
class Batch:
    """Rows to score: known users and/or anonymous histories."""

    user_idx: np.ndarray  # int64, -1 for a user the model has not seen
    histories: sp.csr_matrix  # n × n_items, interaction weights
    sequences: list[np.ndarray]  # per row, item indices in time order (oldest first)


@dataclass
class Filters:
    """Business rules applied after scoring.

    ``include_categories`` / ``exclude_categories`` need item categories at fit time
    (``fit(..., items=frame with item_id, category)``); ``allowed_items`` (e.g. in stock) and
    ``excluded_items`` are item ids.
    """

    include_categories: list[str] | None = None
    exclude_categories: list[str] | None = None
    allowed_items: list[str] | None = None
    excluded_items: list[str] | None = None

    @classmethod
    def coerce(cls, f: Filters | dict | None) -> Filters | None:
        if f is None or isinstance(f, Filters):
            return f
        unknown = set(f) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValidationError(f"unknown filter(s) {sorted(unknown)}; expected {sorted(cls.__dataclass_fields__)}")
        return cls(**f)


class Recommender(Estimator, ABC):
    """Base class: see the module docstring for the contract."""

    capability: ClassVar[str] = "recommend"
    #: users scored per batch
    batch_size: ClassVar[int] = 2048

    # ----------------------------------------------------------------- fit
    def fit(
        self,
        interactions: Interactions | pd.DataFrame,
        items: pd.DataFrame | None = None,
        **frame_kwargs: Any,
    ) -> Recommender:
        """Learn from interactions (an :class:`Interactions` or a frame user_id, item_id[, ts, weight]).

        ``items`` (item_id, category, ...) enables category filters and content features.
        """
        data = (
            interactions
            if isinstance(interactions, Interactions)
            else Interactions.from_frame(interactions, **frame_kwargs)
        )
        if data.matrix.nnz == 0:
            raise ValidationError("cannot fit a recommender on zero interactions")
        self.users_ = data.users
        self.items_ = data.items
        self.train_ = data.matrix.tocsr().astype(np.float32)
        self.item_categories_ = self._align_categories(items)
        self.item_metadata_ = self._align_items(items)
        self._user_sequences_ = _split_sequences(data.sequences, data.n_users)
        self._fit(self.train_, data)
        self.fitted_ = True
        return self

    @abstractmethod
    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None: ...

    @abstractmethod
    def _score(self, batch: Batch) -> np.ndarray: ...

    # ----------------------------------------------------------------- verbs
    def recommend(
        self,
        user_ids: list | np.ndarray | pd.Series | str,
        k: int = 10,
        exclude_seen: bool = True,
        filters: Filters | dict | None = None,
        unknown: str = "error",
    ) -> pd.DataFrame:
        """Top-``k`` items for known users: frame ``user_id, item_id, score, rank``.

        ``unknown='error'`` raises on a user the model has not seen; ``'popular'`` answers
        them from an empty history (most models then fall back to popularity); ``'skip'`` drops them.
        """
        self._check_fitted()
        ids = np.atleast_1d(np.asarray(user_ids, dtype=object)).astype(str)
        k = self._check_k(k)
        idx = self.users_.encode(ids, strict=False).astype(np.int64)
        if (idx < 0).any():
            if unknown == "error":
                bad = ids[idx < 0][:5].tolist()
                raise ValidationError(f"unknown user id(s) {bad}; use recommend_for_history or unknown='popular'")
            if unknown == "skip":
                ids, idx = ids[idx >= 0], idx[idx >= 0]
            elif unknown != "popular":
                raise ValidationError(f"unknown={unknown!r}; expected 'error', 'popular' or 'skip'")
        mask = self._filter_mask(Filters.coerce(filters))
        out = []
        for start in range(0, len(idx), self.batch_size):
            b_idx = idx[start : start + self.batch_size]
            known = np.where(b_idx >= 0, b_idx, 0)
            hist = self.train_[known]
            hist = sp.diags((b_idx >= 0).astype(np.float32)) @ hist  # unknown users: empty history
            seqs = [self._user_sequences_[u] if u >= 0 else np.empty(0, np.int64) for u in b_idx]
            batch = Batch(b_idx, hist.tocsr(), seqs)
            out.append(self._top_k(batch, ids[start : start + self.batch_size], k, exclude_seen, mask))
        return _concat(out)

    def recommend_for_history(
        self,
        item_ids: list | np.ndarray,
        k: int = 10,
        exclude_seen: bool = True,
        filters: Filters | dict | None = None,
    ) -> pd.DataFrame:
        """Top-``k`` for a visitor the model has never seen, from the items they interacted with
        (oldest first); unknown items are ignored. No retraining."""
        self._check_fitted()
        k = self._check_k(k)
        seq = self.items_.encode(np.asarray(item_ids, dtype=object), strict=False)
        batch = self._history_batch(seq[seq >= 0].astype(np.int64))
        return self._top_k(batch, np.array(["<history>"]), k, exclude_seen, self._filter_mask(Filters.coerce(filters)))

    def recommend_one(
        self,
        user_idx: int = -1,
        k: int = 10,
        exclude_seen: bool = True,
        filters: Filters | dict | None = None,
        history: np.ndarray | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` for one row as arrays (dense item indices, float32 scores), best first:
        the serving fast path, with the answer of :meth:`recommend` / :meth:`recommend_for_history`
        but no ids and no frame.

        ``user_idx`` is a known user's dense index (``users_.encode``); with ``user_idx=-1``,
        ``history`` holds the visitor's dense item indices (oldest first). Items ruled out
        (seen, filtered) are left out, so fewer than ``k`` may come back.
        """
        self._check_fitted()
        k = self._check_k(k)
        if user_idx >= 0:
            if user_idx >= len(self.users_):
                raise ValidationError(f"user index {user_idx} is out of range 0..{len(self.users_) - 1}")
            row = self.train_[user_idx : user_idx + 1]  # 2-d for csr_matrix and csr_array alike
            batch = Batch(np.array([user_idx]), row, [self._user_sequences_[user_idx]])
        else:
            seq = np.asarray(history if history is not None else [], dtype=np.int64)
            if len(seq) and (seq.min() < 0 or seq.max() >= len(self.items_)):
                raise ValidationError(f"history item indices must lie in [0, {len(self.items_)})")
            batch = self._history_batch(seq)
        top, scores = self._rank(batch, k, exclude_seen, self._filter_mask(Filters.coerce(filters)))
        keep = np.isfinite(scores[0])
        return top[0][keep], scores[0][keep]

    def _history_batch(self, seq: np.ndarray) -> Batch:
        """A one-row batch for an unseen visitor who interacted with ``seq`` (dense, oldest first)."""
        hist = sp.csr_matrix(
            (np.ones(len(seq), np.float32), (np.zeros(len(seq), np.int64), seq)), shape=(1, len(self.items_))
        )
        hist.sum_duplicates()
        return Batch(np.array([-1]), hist, [seq])

    def similar_items(self, item_ids: list | np.ndarray | str, k: int = 10) -> pd.DataFrame:
        """Items most similar to each given item: frame ``item_id, similar_item_id, score, rank``."""
        self._check_fitted()
        ids = np.atleast_1d(np.asarray(item_ids, dtype=object)).astype(str)
        idx = self.items_.encode(ids)
        sims = self._item_similarity(idx)
        sims[np.arange(len(idx)), idx] = -np.inf
        top, scores = _top_k_rows(sims, self._check_k(k))
        return pd.DataFrame(
            {
                "item_id": np.repeat(ids, top.shape[1]),
                "similar_item_id": self.items_.decode(top.ravel()),
                "score": scores.ravel(),
                "rank": np.tile(np.arange(1, top.shape[1] + 1), len(ids)),
            }
        )[np.isfinite(scores.ravel())].reset_index(drop=True)

    def explain(self, user_id: str, item_id: str, n: int = 3) -> list[dict[str, Any]]:
        """Why ``item_id`` is recommended to ``user_id``: the user's past items most similar to it."""
        self._check_fitted()
        u = int(self.users_.encode([user_id])[0])
        i = int(self.items_.encode([item_id])[0])
        hist = self.train_[u].indices
        if len(hist) == 0:
            return []
        sims = self._item_similarity(np.array([i]))[0, hist]
        order = np.argsort(-sims)[:n]
        titles = self.item_metadata_.get("title") if self.item_metadata_ is not None else None
        out = []
        for j in order:
            entry = {"because_of": str(self.items_.ids[hist[j]]), "similarity": float(sims[j])}
            if titles is not None:
                entry["title"] = titles[hist[j]]
            out.append(entry)
        return out

    # ----------------------------------------------------------------- shared mechanics
    def _item_vectors(self) -> np.ndarray | None:
        """Item embeddings (n_items × d) where the model has them; None means co-occurrence."""
        return None

    def _item_similarity(self, item_idx: np.ndarray) -> np.ndarray:
        vecs = self._item_vectors()
        if vecs is None:
            # cosine of item columns of the training matrix (co-occurrence)
            X = self.train_.tocsc()
            norms = np.sqrt(np.asarray(X.multiply(X).sum(axis=0)).ravel()) + 1e-9
            cols = X[:, item_idx]
            sims = np.asarray((cols.T @ X).todense(), dtype=np.float32)
            return sims / (norms[item_idx][:, None] * norms[None, :])
        v = vecs / (np.linalg.norm(vecs, axis=1, keepdims=True) + 1e-9)
        return (v[item_idx] @ v.T).astype(np.float32)

    def _popularity_fallback(self, scores: np.ndarray, batch: Batch) -> np.ndarray:
        """Give rows with an empty history (cold users) the items' training popularity.

        A helper for ``_score`` of models whose scores are all zero without a history.
        """
        empty = np.diff(batch.histories.indptr) == 0
        if empty.any():
            pop = getattr(self, "_popularity_", None)
            if pop is None or len(pop) != self.train_.shape[1]:
                pop = np.bincount(self.train_.indices, minlength=self.train_.shape[1]).astype(np.float32)
                self._popularity_ = pop
            scores[empty] = pop
        return scores

    def _rank(
        self, batch: Batch, k: int, exclude_seen: bool, mask: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Score a batch, rule out seen and filtered items (-inf), take the top ``k`` per row."""
        scores = np.asarray(self._score(batch), dtype=np.float32)
        if scores.shape != (len(batch.user_idx), len(self.items_)):
            raise ShopMLError(f"{type(self).__name__}._score returned shape {scores.shape}")
        if exclude_seen:  # the CSR's own (row, column) pairs: no COO copy (a served row: 20 us less)
            h = batch.histories
            rows = np.repeat(np.arange(h.shape[0]), np.diff(h.indptr))
            scores[rows, h.indices] = -np.inf
        if mask is not None:
            scores[:, ~mask] = -np.inf
        return _top_k_rows(scores, k)

    def _top_k(self, batch: Batch, ids: np.ndarray, k: int, exclude_seen: bool, mask: np.ndarray | None) -> pd.DataFrame:
        top, top_scores = self._rank(batch, k, exclude_seen, mask)
        frame = pd.DataFrame(
            {
                "user_id": np.repeat(ids, top.shape[1]),
                "item_id": self.items_.decode(top.ravel()),
                "score": top_scores.ravel(),
                "rank": np.tile(np.arange(1, top.shape[1] + 1), len(ids)),
            }
        )
        return frame[np.isfinite(frame["score"].to_numpy())].reset_index(drop=True)

    def top_k_indices(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True) -> np.ndarray:
        """Dense item indices of the top ``k`` for dense user indices: the evaluation fast path."""
        self._check_fitted()
        out = np.empty((len(user_idx), k), dtype=np.int64)
        for start in range(0, len(user_idx), self.batch_size):
            b = np.asarray(user_idx[start : start + self.batch_size], dtype=np.int64)
            hist = self.train_[b]
            batch = Batch(b, hist, [self._user_sequences_[u] for u in b])
            scores = np.asarray(self._score(batch), dtype=np.float32)
            if exclude_seen:
                h = hist.tocoo()
                scores[h.row, h.col] = -np.inf
            out[start : start + len(b)] = _top_k_rows(scores, k)[0]
        return out

    def top_k_for_sequences(
        self, sequences: list[np.ndarray], k: int, exclude_seen: bool = False
    ) -> np.ndarray:
        """Dense item indices of the top ``k`` for unseen visitors given as dense item-index
        sequences (oldest first): batched ``recommend_for_history``, the session evaluation path."""
        self._check_fitted()
        n_items = len(self.items_)
        out = np.empty((len(sequences), k), dtype=np.int64)
        for start in range(0, len(sequences), self.batch_size):
            seqs = [np.asarray(s, dtype=np.int64) for s in sequences[start : start + self.batch_size]]
            lengths = np.fromiter((len(s) for s in seqs), np.int64, len(seqs))
            cols = np.concatenate(seqs) if lengths.sum() else np.empty(0, np.int64)
            if len(cols) and (cols.min() < 0 or cols.max() >= n_items):
                raise ValidationError(f"sequence item indices must lie in [0, {n_items})")
            rows = np.repeat(np.arange(len(seqs)), lengths)
            hist = sp.csr_matrix(
                (np.ones(len(cols), np.float32), (rows, cols)), shape=(len(seqs), n_items)
            )
            hist.sum_duplicates()
            batch = Batch(np.full(len(seqs), -1, dtype=np.int64), hist, seqs)
            scores = np.asarray(self._score(batch), dtype=np.float32)
            if exclude_seen:
                scores[rows, cols] = -np.inf
            out[start : start + len(seqs)] = _top_k_rows(scores, k)[0]
        return out

    def _filter_mask(self, f: Filters | None) -> np.ndarray | None:
        if f is None:
            return None
        mask = np.ones(len(self.items_), dtype=bool)
        if f.include_categories is not None or f.exclude_categories is not None:
            if self.item_categories_ is None:
                raise ValidationError("category filters need item categories: fit(..., items=frame with item_id, category)")
            cats = self.item_categories_
            if f.include_categories is not None:
                mask &= np.isin(cats, f.include_categories)
            if f.exclude_categories is not None:
                mask &= ~np.isin(cats, f.exclude_categories)
        if f.allowed_items is not None:
            allowed = self.items_.encode(f.allowed_items, strict=False)
            m = np.zeros_like(mask)
            m[allowed[allowed >= 0]] = True
            mask &= m
        if f.excluded_items is not None:
            ex = self.items_.encode(f.excluded_items, strict=False)
            mask[ex[ex >= 0]] = False
        return mask

    def _align_items(self, items: pd.DataFrame | None) -> dict[str, np.ndarray] | None:
        if items is None:
            return None
        if "item_id" not in items.columns:
            raise ValidationError(f"items frame needs an item_id column; has {list(items.columns)}")
        aligned = items.drop_duplicates("item_id").set_index(items.drop_duplicates("item_id")["item_id"].astype(str))
        aligned = aligned.reindex(self.items_.ids)
        return {c: aligned[c].to_numpy(dtype=object) for c in aligned.columns if c != "item_id"}

    def _align_categories(self, items: pd.DataFrame | None) -> np.ndarray | None:
        if items is None or "category" not in items.columns:
            return None
        s = items.drop_duplicates("item_id").set_index(items.drop_duplicates("item_id")["item_id"].astype(str))["category"]
        return s.reindex(self.items_.ids).astype(object).to_numpy()

    def _check_k(self, k: int) -> int:
        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}")
        return int(min(k, len(self.items_)))

    # ----------------------------------------------------------------- persistence
    def _base_state(self) -> dict[str, np.ndarray]:
        X = self.train_
        seqs = self._user_sequences_
        lengths = np.fromiter((len(q) for q in seqs), np.int64, len(seqs))
        out = {
            "users": self.users_.ids.astype(str),
            "items": self.items_.ids.astype(str),
            "train.data": X.data,
            "train.indices": X.indices,
            "train.indptr": X.indptr,
            "sequences.items": np.concatenate(seqs) if lengths.sum() else np.empty(0, np.int64),
            "sequences.lengths": lengths,
        }
        if self.item_categories_ is not None:
            out["item_categories"] = self.item_categories_.astype(str)
        titles = (self.item_metadata_ or {}).get("title")
        if titles is not None:  # explain() names the items a recommendation is because of
            out["item_titles"] = pd.Series(titles, dtype=object).fillna("").astype(str).to_numpy(str)
        return out

    def _set_base_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.users_ = Vocab(arrays["users"].tolist())
        self.items_ = Vocab(arrays["items"].tolist())
        self.train_ = sp.csr_matrix(
            (arrays["train.data"], arrays["train.indices"], arrays["train.indptr"]),
            shape=(len(self.users_), len(self.items_)),
        )
        cats = arrays.get("item_categories")
        self.item_categories_ = cats.astype(object) if cats is not None else None
        titles = arrays.get("item_titles")
        self.item_metadata_ = {"title": titles.astype(object)} if titles is not None else None
        bounds = np.r_[0, np.cumsum(arrays["sequences.lengths"])]
        items = arrays["sequences.items"].astype(np.int64)
        self._user_sequences_ = [items[bounds[u] : bounds[u + 1]] for u in range(len(bounds) - 1)]

    @classmethod
    def _contract_example(cls, **params: Any) -> tuple[Recommender, dict, dict]:
        """A tiny fitted instance, good inputs and bad inputs for the generic contract test
        (``tests/test_contract.py``); models with slow defaults pass smaller ``params``."""
        params = {k: v for k, v in _SMALL.items() if k in cls().get_params()} | params
        model = cls(**params).fit(_toy_interactions())
        return model, {"user_ids": ["u0", "u1"]}, {"user_ids": ["<no such user>"]}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """What the generic contract test compares after a save/load round trip."""
        return {"recommend": self.recommend(inputs["user_ids"], k=3).to_numpy()}


#: small settings for contract-test instances, used where a model has the parameter
_SMALL: dict[str, Any] = {"epochs": 2, "embedding_dim": 8, "batch_size": 64, "n_estimators": 10}


def _top_k_rows(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values of the ``k`` largest entries per row, best first (argpartition + sort of k)."""
    k = min(k, scores.shape[1])
    part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(scores, part, axis=1)
    order = np.argsort(-vals, axis=1, kind="stable")
    return np.take_along_axis(part, order, axis=1), np.take_along_axis(vals, order, axis=1)


def _split_sequences(seq: pd.DataFrame, n_users: int) -> list[np.ndarray]:
    """Per-user arrays of item indices in time order (``seq`` is sorted by user, ts)."""
    users = seq["user"].to_numpy()
    items = seq["item"].to_numpy().astype(np.int64)
    bounds = np.searchsorted(users, np.arange(n_users + 1))
    return [items[bounds[u] : bounds[u + 1]] for u in range(n_users)]


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    if not frames:
        return pd.DataFrame({"user_id": [], "item_id": [], "score": [], "rank": []})
    return pd.concat(frames, ignore_index=True)


def _toy_interactions(n_users: int = 24, n_items: int = 16) -> pd.DataFrame:
    """Two taste groups, deterministic: user u sees 6 items of parity u % 2, one an hour."""
    u = np.repeat(np.arange(n_users), 6)
    i = (u % 2 + 2 * ((np.tile(np.arange(6), n_users) + u) % (n_items // 2))) % n_items
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(np.arange(len(u)), unit="h")
    return pd.DataFrame({"user_id": [f"u{x}" for x in u], "item_id": [f"i{x}" for x in i], "ts": ts})


__all__ = ["Batch", "Filters", "NotFittedError", "Recommender"]
