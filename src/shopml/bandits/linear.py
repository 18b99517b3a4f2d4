"""Contextual linear policies: LinUCB and linear Thompson sampling (disjoint per-arm ridge models).

Each arm keeps the inverse of its ridge matrix ``A = l2 I + sum w x x^T`` and ``b = sum w y x``,
updated with Sherman–Morrison rank-one steps (no matrix inverse per step). Under the
position-based click model a reward at a position examined with probability ``e`` has
expectation ``e * x.theta``, so the row enters with feature ``e x``: ``A += e^2 x x^T``,
``b += e r x``, which keeps the estimate of the attraction ``x.theta`` unbiased.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopml.bandits.base import Policy, sherman_morrison_waves
from shopml.core.errors import ValidationError


class _Linear(Policy):
    contextual = True

    def _init(self) -> None:
        if not float(self.l2) > 0:
            raise ValidationError(f"l2 must be > 0, got {self.l2}")
        d = self.n_features_ + (1 if self.fit_intercept else 0)
        self.A_inv_ = np.broadcast_to(np.eye(d) / float(self.l2), (self.n_actions_, d, d)).copy()
        self.b_ = np.zeros((self.n_actions_, d))

    def _design(self, X: np.ndarray) -> np.ndarray:
        return np.hstack([X, np.ones((X.shape[0], 1))]) if self.fit_intercept else X

    def coef(self) -> np.ndarray:
        """``(n_actions, d)`` ridge coefficients (the intercept last when fitted)."""
        self._check_fitted()
        return np.einsum("kij,kj->ki", self.A_inv_, self.b_)

    def _mean_sd(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        Z = self._design(X)
        mean = Z @ self.coef().T
        var = np.einsum("nd,kde,ne->nk", Z, self.A_inv_, Z)
        return mean, np.sqrt(np.maximum(var, 0.0))

    def _update(self, X: np.ndarray, a: np.ndarray, r: np.ndarray, w: np.ndarray) -> None:
        sherman_morrison_waves(self.A_inv_, self.b_, self._design(X), a, r / w, w * w)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**self._base_state(), "A_inv": self.A_inv_, "b": self.b_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self.A_inv_ = arrays["A_inv"].astype(np.float64)
        self.b_ = arrays["b"].astype(np.float64)


class LinUCB(_Linear):
    """LinUCB with disjoint models (Li et al. 2010): ``x.theta_a + alpha * sqrt(x^T A_a^-1 x)``.

    Deterministic given the history: logs support off-policy evaluation only with ``epsilon > 0``.
    """

    def __init__(
        self,
        alpha: float = 1.0,
        l2: float = 1.0,
        fit_intercept: bool = True,
        epsilon: float = 0.0,
        examination: tuple[float, ...] | None = None,
        seed: int = 0,
    ):
        self.alpha = alpha
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.epsilon = epsilon
        self.examination = examination
        self.seed = seed

    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        mean, sd = self._mean_sd(X)
        return (mean + float(self.alpha) * sd)[None]


class LinearTS(_Linear):
    """Linear Thompson sampling (Agrawal & Goyal 2013): ``theta_a ~ N(theta_hat_a, v^2 A_a^-1)``.

    Only ``x.theta_a`` matters for a row, and it is normal with mean ``x.theta_hat_a`` and
    variance ``v^2 x^T A_a^-1 x``; sampling that directly needs no Cholesky factor. The propensity
    is the share of ``n_samples`` draws that put the arm at the position.
    """

    def __init__(
        self,
        v: float = 0.5,
        l2: float = 1.0,
        fit_intercept: bool = True,
        n_samples: int = 100,
        epsilon: float = 0.0,
        examination: tuple[float, ...] | None = None,
        seed: int = 0,
    ):
        self.v = v
        self.l2 = l2
        self.fit_intercept = fit_intercept
        self.n_samples = n_samples
        self.epsilon = epsilon
        self.examination = examination
        self.seed = seed

    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        if int(self.n_samples) < 1:
            raise ValidationError(f"n_samples must be >= 1, got {self.n_samples}")
        mean, sd = self._mean_sd(X)
        z = rng.standard_normal((int(self.n_samples), *mean.shape))
        return mean[None] + float(self.v) * sd[None] * z


__all__ = ["LinUCB", "LinearTS"]
