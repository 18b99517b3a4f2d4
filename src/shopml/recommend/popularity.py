"""Popularity: the floor every recommender must beat (global, or over a recent window)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.recommend.base import Batch, Recommender
from shopml.recommend.interactions import Interactions


class Popularity(Recommender):
    """Rank items by how many users interacted with them.

    ``window_days`` counts only interactions in the last ``window_days`` before the latest
    interaction (a "trending" floor); ``None`` counts all.
    """

    def __init__(self, window_days: float | None = None) -> None:
        self.window_days = window_days

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        seq = data.sequences
        if self.window_days is not None and len(seq):
            cutoff = seq["ts"].max() - int(pd.Timedelta(days=self.window_days).value)
            seq = seq[seq["ts"] >= cutoff]
        pairs = seq.drop_duplicates(["user", "item"])
        self.popularity_ = np.bincount(pairs["item"].to_numpy(), minlength=X.shape[1]).astype(np.float32)

    def _score(self, batch: Batch) -> np.ndarray:
        return np.broadcast_to(self.popularity_, (len(batch.user_idx), len(self.popularity_))).copy()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"popularity": self.popularity_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        self.popularity_ = arrays["popularity"]
