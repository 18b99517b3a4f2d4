"""Budget pacing: impressions across campaigns with budgets, a linear program re-solved as the
click-rate estimates and the remaining budgets change.

Segments ``s`` (kinds of visitors), campaigns ``j`` with a cost per click ``c_j`` and a budget
``B_j`` for the period. With ``n_s`` impressions still expected from segment ``s`` and estimated
click rates ``ctr_sj``, the plan is the LP (scipy's HiGHS)

.. math:: \\max_x \\sum_{s,j} n_s\\, \\widehat{ctr}_{sj}\\, x_{sj}
          \\quad\\text{s.t.}\\quad \\sum_j x_{sj} \\le 1,\\quad
          \\sum_s n_s\\, \\widehat{ctr}_{sj}\\, c_j\\, x_{sj} \\le B_j^{\\text{left}},\\quad x \\ge 0

and an impression of segment ``s`` goes to campaign ``j`` with probability ``x_sj`` (nothing shown
with the rest), mixed with ``explore`` uniform choice among campaigns with budget left, so the
estimates keep learning and every allocation has a known propensity. Estimates are click rates
shrunk toward the campaign's pooled rate (``prior_strength`` pseudo-impressions). A campaign whose
spend reaches its budget gets nothing more.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from scipy.optimize import linprog

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator


def solve_allocation(
    n: np.ndarray, ctr: np.ndarray, cpc: np.ndarray, budget: np.ndarray
) -> np.ndarray:
    """The LP above: ``(segments, campaigns)`` shares of each segment's impressions."""
    S, J = ctr.shape
    value = (n[:, None] * ctr).ravel()
    A_seg = np.kron(np.eye(S), np.ones((1, J)))
    A_bud = np.zeros((J, S * J))
    for j in range(J):  # budget row j touches x_sj for every s
        A_bud[j, j::J] = n * ctr[:, j] * cpc[j]
    res = linprog(
        -value,
        A_ub=np.vstack([A_seg, A_bud]),
        b_ub=np.concatenate([np.ones(S), np.maximum(budget, 0.0)]),
        bounds=(0, 1),
        method="highs",
    )
    if res.status != 0:
        raise ValidationError(f"the allocation LP failed: {res.message}")
    return np.clip(res.x.reshape(S, J), 0.0, 1.0)


class BudgetPacer(Estimator):
    """Allocates impressions to campaigns under budgets (see the module docstring)."""

    capability = "bandits"

    def __init__(
        self,
        budgets: tuple[float, ...] = (),
        cost_per_click: tuple[float, ...] = (),
        explore: float = 0.05,
        prior_strength: float = 200.0,
        seed: int = 0,
    ) -> None:
        self.budgets = budgets
        self.cost_per_click = cost_per_click
        self.explore = explore
        self.prior_strength = prior_strength
        self.seed = seed

    def fit(self, n_segments: int) -> BudgetPacer:
        """Start a period: budgets full, no observations, ``n_segments`` kinds of visitors."""
        b = np.asarray(self.budgets, dtype=float)
        c = np.asarray(self.cost_per_click, dtype=float)
        if b.ndim != 1 or b.size == 0 or b.size != c.size:
            raise ValidationError("budgets and cost_per_click need one value per campaign")
        if (b <= 0).any() or (c <= 0).any():
            raise ValidationError("budgets and costs per click must be > 0")
        if not 0 <= self.explore <= 1:
            raise ValidationError(f"explore must be in [0, 1], got {self.explore}")
        if n_segments < 1:
            raise ValidationError(f"n_segments must be >= 1, got {n_segments}")
        self.n_segments_ = int(n_segments)
        J = b.size
        self.spend_ = np.zeros(J)
        self.imps_ = np.zeros((n_segments, J))
        self.clicks_ = np.zeros((n_segments, J))
        self.plan_ = np.full((n_segments, J), 1.0 / J)
        self.rng_ = np.random.default_rng(self.seed)
        self.solves_ = 0
        self.fitted_ = True
        return self

    @property
    def budget_left(self) -> np.ndarray:
        return np.maximum(np.asarray(self.budgets, float) - self.spend_, 0.0)

    def estimates(self) -> np.ndarray:
        """Click rates per (segment, campaign), shrunk toward each campaign's pooled rate."""
        self._check_fitted()
        pooled = (self.clicks_.sum(0) + 1.0) / (self.imps_.sum(0) + 100.0)
        k = float(self.prior_strength)
        return (self.clicks_ + k * pooled[None, :]) / (self.imps_ + k)

    def replan(self, expected_impressions: np.ndarray) -> np.ndarray:
        """Re-solve the LP for the impressions still expected per segment."""
        self._check_fitted()
        n = np.asarray(expected_impressions, dtype=float)
        if n.shape != (self.n_segments_,) or (n < 0).any():
            raise ValidationError(f"expected_impressions must be {self.n_segments_} counts >= 0")
        self.plan_ = solve_allocation(
            n, self.estimates(), np.asarray(self.cost_per_click, float), self.budget_left
        )
        self.solves_ += 1
        return self.plan_

    def allocate(self, segments: Any) -> tuple[np.ndarray, np.ndarray]:
        """Campaign per impression (-1: none) and the probability of that choice."""
        self._check_fitted()
        s = np.asarray(segments, dtype=np.int64).ravel()
        if s.size and (s.min() < 0 or s.max() >= self.n_segments_):
            raise ValidationError(f"segments must be in 0..{self.n_segments_ - 1}")
        J = self.spend_.size
        live = self.budget_left > 0
        plan = self.plan_ * live[None, :]
        nl = max(int(live.sum()), 1)
        probs = (1 - self.explore) * plan[s] + (self.explore / nl) * live[None, :]
        none = np.maximum(1.0 - probs.sum(1), 0.0)
        full = np.hstack([probs, none[:, None]])
        full /= full.sum(1, keepdims=True)
        u = self.rng_.random(s.size)
        choice = (u[:, None] > np.cumsum(full, axis=1)).sum(1)
        choice = np.minimum(choice, J)
        prop = full[np.arange(s.size), choice]
        return np.where(choice == J, -1, choice), prop

    def update(self, segments: Any, campaigns: Any, clicks: Any) -> BudgetPacer:
        """Record shown impressions and their clicks; spend is clicks times the cost per click."""
        self._check_fitted()
        s = np.asarray(segments, dtype=np.int64).ravel()
        j = np.asarray(campaigns, dtype=np.int64).ravel()
        c = np.asarray(clicks, dtype=float).ravel()
        if not (s.size == j.size == c.size):
            raise ValidationError("segments, campaigns and clicks need the same length")
        shown = j >= 0
        np.add.at(self.imps_, (s[shown], j[shown]), 1.0)
        np.add.at(self.clicks_, (s[shown], j[shown]), c[shown])
        self.spend_ += np.bincount(
            j[shown], weights=c[shown], minlength=self.spend_.size
        ) * np.asarray(self.cost_per_click, float)
        return self

    def _get_state(self) -> dict[str, np.ndarray]:
        return {
            "spend": self.spend_,
            "imps": self.imps_,
            "clicks": self.clicks_,
            "plan": self.plan_,
        }

    def _meta(self) -> dict[str, Any]:
        return {"n_segments": self.n_segments_, "solves": self.solves_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.spend_, self.imps_, self.clicks_, self.plan_ = (
            arrays["spend"],
            arrays["imps"],
            arrays["clicks"],
            arrays["plan"],
        )
        self.n_segments_, self.solves_ = int(meta["n_segments"]), int(meta["solves"])
        self.rng_ = np.random.default_rng(self.seed)


__all__ = ["BudgetPacer", "solve_allocation"]
