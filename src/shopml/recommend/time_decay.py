"""Recency weighting of interactions, and EASE learned from recency-weighted co-occurrence.

Shops change what sells: seasonal ranges come and go, new lines replace old ones. A model that
counts a co-purchase from last year as much as one from last week recommends last year's shop.
:func:`decayed_matrix` weighs each user–item pair by how long ago it last happened, halving every
``half_life_days``; :class:`TimeDecayEASE` learns EASE's item-item weights from that matrix.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.core.space import LogUniform
from shopml.recommend.ease import EASE
from shopml.recommend.interactions import Interactions

_NS_PER_DAY = 86_400 * 10**9


def decayed_matrix(data: Interactions, half_life_days: float) -> sp.csr_matrix:
    """Users × items, each pair weighing ``0.5 ** (age / half_life_days)`` (float64).

    ``age`` is the time in days from the pair's latest interaction to the latest interaction in
    ``data`` (the end of training, so no later information enters). Repeats do not add up: a
    pair weighs what its most recent interaction weighs.
    """
    if not half_life_days > 0:
        raise ValidationError(f"half_life_days must be > 0, got {half_life_days!r}")
    seq = data.sequences  # sorted by user, then time
    shape = data.matrix.shape
    if len(seq) == 0:
        return sp.csr_matrix(shape, dtype=np.float64)
    last = seq.drop_duplicates(["user", "item"], keep="last")
    ts = last["ts"].to_numpy()
    age_days = (seq["ts"].max() - ts) / _NS_PER_DAY
    w = np.exp2(-age_days / float(half_life_days))
    M = sp.csr_matrix(
        (w, (last["user"].to_numpy(), last["item"].to_numpy())), shape=shape, dtype=np.float64
    )
    M.sum_duplicates()
    return M


class TimeDecayEASE(EASE):
    """EASE (Steck 2019) whose Gram matrix counts recent co-occurrences more than old ones.

    ``B`` minimises ``|X_t - X_t B|^2 + l2 |B|^2`` with ``diag(B) = 0``, where ``X_t`` is the
    :func:`decayed_matrix` of the training data with half-life ``half_life_days``. Scores are
    still ``history @ B`` over the plain (binary) history, so ``recommend_for_history``,
    ``explain`` and persistence work as for :class:`EASE`; only which items go together, and
    how strongly, follows the recent shop. Needs interaction times (``ts``).
    """

    #: declared for hyper-parameter search (shopml.core.space; Ray Tune via shopml.distributed)
    search_space = {"l2": LogUniform(10.0, 5000.0), "half_life_days": LogUniform(3.0, 365.0)}

    def __init__(self, l2: float = 200.0, half_life_days: float = 30.0, max_items: int = 30_000) -> None:
        self.l2 = l2
        self.half_life_days = half_life_days
        self.max_items = max_items

    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        super()._fit(decayed_matrix(data, self.half_life_days), data)
