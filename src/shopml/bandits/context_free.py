"""Context-free policies: ε-greedy, UCB1 and Bernoulli Thompson sampling.

They keep, per arm, the examination-weighted number of times it was shown (``exposure_``) and its
reward sum (``reward_``); under the position-based click model ``reward_ / exposure_`` estimates the
arm's attraction (the click rate at a fully examined position).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shopml.bandits.base import Policy
from shopml.core.errors import ValidationError


class _Counting(Policy):
    """Per-arm exposure and reward sums, shared by the context-free policies."""

    def _init(self) -> None:
        self.exposure_ = np.zeros(self.n_actions_)
        self.reward_ = np.zeros(self.n_actions_)

    def _update(self, X: np.ndarray, a: np.ndarray, r: np.ndarray, w: np.ndarray) -> None:
        self.exposure_ += np.bincount(a, weights=w, minlength=self.n_actions_)
        self.reward_ += np.bincount(a, weights=r, minlength=self.n_actions_)

    def means(self) -> np.ndarray:
        """Estimated reward per arm (NaN for an arm never shown)."""
        self._check_fitted()
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(self.exposure_ > 0, self.reward_ / self.exposure_, np.nan)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {**self._base_state(), "exposure": self.exposure_, "reward": self.reward_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self.exposure_ = arrays["exposure"].astype(np.float64)
        self.reward_ = arrays["reward"].astype(np.float64)


class EpsilonGreedy(_Counting):
    """The arm with the best mean reward; a uniformly random slate with probability ``epsilon``.

    Arms never shown come first (an optimistic start), so every arm gets tried.
    """

    def __init__(
        self, epsilon: float = 0.1, examination: tuple[float, ...] | None = None, seed: int = 0
    ):
        self.epsilon = epsilon
        self.examination = examination
        self.seed = seed

    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        m = np.where(self.exposure_ > 0, self.reward_ / np.maximum(self.exposure_, 1e-12), np.inf)
        return np.broadcast_to(m, (1, X.shape[0], self.n_actions_))


class UCB1(_Counting):
    """Upper confidence bound ``mean + alpha * sqrt(2 ln t / n_a)`` (Auer et al. 2002).

    The choice is deterministic given the history, so its logs support off-policy evaluation only
    with ``epsilon > 0`` (propensity ``1 - epsilon + epsilon / K`` for the chosen arm).
    """

    def __init__(
        self,
        alpha: float = 1.0,
        epsilon: float = 0.0,
        examination: tuple[float, ...] | None = None,
        seed: int = 0,
    ):
        self.alpha = alpha
        self.epsilon = epsilon
        self.examination = examination
        self.seed = seed

    def _init(self) -> None:
        if not float(self.alpha) >= 0:
            raise ValidationError(f"alpha must be >= 0, got {self.alpha}")
        super()._init()

    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        n = self.exposure_
        t = max(float(n.sum()), 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            ucb = self.reward_ / n + float(self.alpha) * np.sqrt(2.0 * np.log(t) / n)
        ucb = np.where(n > 0, ucb, np.inf)
        return np.broadcast_to(ucb, (1, X.shape[0], self.n_actions_))


class BernoulliTS(_Counting):
    """Thompson sampling with a Beta(``prior_alpha``, ``prior_beta``) prior per arm.

    Each row draws one posterior sample per arm; the propensity is the share of ``n_samples``
    posterior draws (the chosen one among them) that put the arm at that position.
    """

    def __init__(
        self,
        prior_alpha: float = 1.0,
        prior_beta: float = 1.0,
        n_samples: int = 100,
        epsilon: float = 0.0,
        examination: tuple[float, ...] | None = None,
        seed: int = 0,
    ):
        self.prior_alpha = prior_alpha
        self.prior_beta = prior_beta
        self.n_samples = n_samples
        self.epsilon = epsilon
        self.examination = examination
        self.seed = seed

    def _init(self) -> None:
        if not (float(self.prior_alpha) > 0 and float(self.prior_beta) > 0):
            raise ValidationError("prior_alpha and prior_beta must be > 0")
        if int(self.n_samples) < 1:
            raise ValidationError(f"n_samples must be >= 1, got {self.n_samples}")
        super()._init()

    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        a = float(self.prior_alpha) + self.reward_
        b = float(self.prior_beta) + np.maximum(self.exposure_ - self.reward_, 0.0)
        return rng.beta(a, b, size=(int(self.n_samples), X.shape[0], self.n_actions_))


__all__ = ["BernoulliTS", "EpsilonGreedy", "UCB1"]
