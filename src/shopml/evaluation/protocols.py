"""The top-k recommendation protocol, once: users to rank for, what is relevant, the scores.

:func:`make_split` turns a training frame and a test frame (from a split of
:mod:`shopml.evaluation.splits`) into a :class:`RecommendSplit`: the binary training
interactions and, for every training user active in the test period, the relevant test items.
:func:`evaluate` asks a fitted model for its top ``k`` of those users and scores them with the
full-ranking metrics of :mod:`shopml.evaluation.ranking`. The benchmark suites, the pipeline's
recommend step and the distributed tuner all use these two functions.

The evaluation layer sits below the recommenders, so it does not import them: the interactions
are built by the caller's ``interactions`` function (``Interactions.from_frame`` of
:mod:`shopml.recommend.interactions`), and a model is anything with ``top_k_indices``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.vocab import Vocab
from shopml.evaluation.ranking import RankingReport, ranking_metrics

__all__ = [
    "InteractionsLike",
    "RecommendSplit",
    "TopK",
    "evaluate",
    "make_split",
    "train_popularity",
]


class InteractionsLike(Protocol):
    """What the protocol reads of the training interactions (``shopml.recommend.Interactions``)."""

    matrix: sp.csr_matrix
    users: Vocab
    items: Vocab

    @property
    def n_users(self) -> int: ...

    @property
    def n_items(self) -> int: ...


class TopK(Protocol):
    """A fitted recommender, as the protocol sees it."""

    def top_k_indices(
        self, user_idx: np.ndarray, k: int, exclude_seen: bool = True
    ) -> np.ndarray: ...


@dataclass
class RecommendSplit:
    """Training interactions and held-out relevant items for the users to evaluate.

    ``relevant`` has one row per training user and ``n_items + n_test_only`` columns: items that
    appear only in the test period get columns past the catalogue, so they count as relevant
    but can never be recommended (full-ranking honesty).
    """

    name: str
    train: Any  # InteractionsLike; Any so that models typed on Interactions accept it
    relevant: sp.csr_matrix
    users: np.ndarray  # dense training-user indices evaluated (those with relevant items)
    exclude_seen: bool
    protocol: str
    stats: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None  # e.g. "novel" / "repeat", appended to the model names
    items: pd.DataFrame | None = None  # catalogue (item_id, title, ...) for content models


def make_split(
    name: str,
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    exclude_seen: bool,
    protocol: str,
    novel_only: bool = False,
    variant: str | None = None,
    items: pd.DataFrame | None = None,
    *,
    interactions: Callable[[pd.DataFrame], InteractionsLike],
) -> RecommendSplit:
    """Training interactions (binary) and the relevant matrix of the users present in both.

    ``interactions(frame)`` builds the training interactions from ``user_id, item_id, ts``
    (pass ``Interactions.from_frame``). With ``novel_only`` a test pair the user already had in
    training is not relevant.
    """
    train = interactions(train_df[["user_id", "item_id", "ts"]])
    train.matrix.data[:] = 1.0  # implicit feedback: an interaction is a positive, once
    test = test_df[["user_id", "item_id"]].drop_duplicates()
    u = train.users.encode(test["user_id"], strict=False).astype(np.int64)
    test, u = test[u >= 0], u[u >= 0]
    i = train.items.encode(test["item_id"], strict=False).astype(np.int64)
    extra = Vocab(test.loc[i < 0, "item_id"])
    i = np.where(i >= 0, i, train.n_items + extra.encode(test["item_id"], strict=False))
    if novel_only:  # drop test pairs the user already had in training
        known = i < train.n_items
        seen = np.zeros(len(i), dtype=bool)
        seen[known] = np.asarray(train.matrix[u[known], i[known]]).ravel() > 0
        u, i = u[~seen], i[~seen]
    relevant = sp.csr_matrix(
        (np.ones(len(u), np.float32), (u, i)), shape=(train.n_users, train.n_items + len(extra))
    )
    relevant.sum_duplicates()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    stats = {
        "train_interactions": int(train.matrix.nnz),
        "train_users": train.n_users,
        "train_items": train.n_items,
        "test_users": len(users),
        "test_pairs": int(relevant.nnz),
        "test_only_items": len(extra),
    }
    return RecommendSplit(
        name, train, relevant, users, exclude_seen, protocol, stats, variant, items
    )


def train_popularity(split: RecommendSplit) -> np.ndarray:
    """Share of training users who interacted with each item (for the popularity-bias metric)."""
    train = split.train
    return np.bincount(train.matrix.indices, minlength=train.n_items) / train.n_users


def evaluate(
    model: TopK, split: RecommendSplit, k: int = 10, item_popularity: np.ndarray | None = None
) -> tuple[RankingReport, float]:
    """Top-``k`` of the split's users from a fitted model, scored; returns (report, seconds)."""
    t0 = time.perf_counter()
    top = model.top_k_indices(split.users, k, exclude_seen=split.exclude_seen)
    seconds = time.perf_counter() - t0
    report = ranking_metrics(
        top,
        split.relevant[split.users],
        ks=k,
        n_items=split.train.n_items,
        item_popularity=item_popularity,
    )
    return report, seconds
