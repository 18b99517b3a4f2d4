"""The one contract every bandit policy follows (DESIGN.md §3).

A policy chooses ``n`` actions (one, or a slate of ``n`` positions) for each context row and says
with which probability each was chosen, so that its logs support off-policy evaluation:

- ``fit(n_actions, n_features=0)`` starts a policy cold (priors only); ``fitted_`` is then set;
- ``choose(context, n=1) -> Choice``: ``actions`` and ``propensity`` of shape ``(rows, n)``;
  ``propensity[i, k]`` is the marginal probability that ``actions[i, k]`` is put at position
  ``k`` for that context (exact for deterministic and bootstrapped policies, a Monte-Carlo
  estimate from the posterior draws for Thompson sampling);
- ``probabilities(context, n=1) -> (rows, n_actions, n)``: the whole distribution, for
  off-policy evaluation of this policy as a candidate;
- ``update(context, action, reward, propensity=None, position=None)``: learn from feedback (batches
  of rows; rows are applied in order, so a batch equals the same rows one by one);
- ``save(path)`` / ``load(path)`` from :class:`~shopml.core.estimator.Estimator`.

How a choice is made. A model implements ``_modes(X, rng) -> scores (H, rows, n_actions)``:
``H`` equally likely score vectors (``H = 1`` for a deterministic rule such as UCB, the heads of a
bootstrapped network, ``n_samples`` posterior draws for Thompson sampling). One mode is drawn per
row and its top-``n`` actions form the slate; with probability ``epsilon`` the slate is instead a
uniformly random ordering. Ties are broken by a fixed random order of the arms drawn at ``fit``, so
a deterministic rule stays deterministic and its propensities stay exact.

Slates follow a position-based click model: a click at position ``k`` happens with probability
``examination[k] * attraction(context, action)``. A policy given ``examination`` learns the
attraction (its updates weight each observation by the examination of its position), so the
same model ranks the slots; without it every position is examined with probability 1.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator


@dataclass(frozen=True)
class Choice:
    """What :meth:`Policy.choose` returns: ``(rows, n)`` actions and their propensities."""

    actions: np.ndarray
    propensity: np.ndarray

    def __len__(self) -> int:
        return int(self.actions.shape[0])


def as_context(context: Any, n_features: int | None = None, name: str = "context") -> np.ndarray:
    """Context rows as a float64 ``(rows, d)`` array; an int means that many empty contexts."""
    if isinstance(context, int | np.integer) and not isinstance(context, bool):
        if context < 1:
            raise ValidationError(f"{name}: expected a positive number of rows, got {context}")
        return np.zeros((int(context), 0))
    if hasattr(context, "to_numpy"):
        context = context.to_numpy()
    try:
        X = np.asarray(context, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must be numbers (rows x features)") from None
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2 or X.shape[0] == 0:
        raise ValidationError(f"{name} must be a non-empty 2-D array, got shape {X.shape}")
    if not np.isfinite(X).all():
        raise ValidationError(f"{name} holds NaN or infinite values")
    if n_features is not None and n_features > 0 and X.shape[1] != n_features:
        raise ValidationError(
            f"{name} has {X.shape[1]} features; the policy was fitted with {n_features}"
        )
    return X


class Policy(Estimator):
    """Base of every bandit policy; subclasses implement ``_init``, ``_modes`` and ``_update``."""

    capability = "bandits"
    #: whether the policy uses the context (context-free policies accept any width)
    contextual = False

    # ----------------------------------------------------------------- public verbs
    def fit(self, n_actions: int, n_features: int = 0) -> Policy:
        """Start cold with ``n_actions`` arms and contexts of ``n_features`` numbers."""
        if (
            isinstance(n_actions, bool)
            or not isinstance(n_actions, int | np.integer)
            or n_actions < 1
        ):
            raise ValidationError(f"n_actions must be a positive integer, got {n_actions!r}")
        if (
            isinstance(n_features, bool)
            or not isinstance(n_features, int | np.integer)
            or n_features < 0
        ):
            raise ValidationError(f"n_features must be a non-negative integer, got {n_features!r}")
        if self.contextual and n_features < 1:
            raise ValidationError(f"{type(self).__name__} is contextual: n_features must be >= 1")
        eps = float(getattr(self, "epsilon", 0.0))
        if not 0.0 <= eps <= 1.0:
            raise ValidationError(f"epsilon must be in [0, 1], got {eps}")
        self._check_examination()
        self.n_actions_ = int(n_actions)
        self.n_features_ = int(n_features)
        self.rng_ = np.random.default_rng(getattr(self, "seed", 0))
        self.priority_ = self.rng_.permutation(self.n_actions_)
        self.t_ = 0
        self._init()
        self.fitted_ = True
        return self

    def choose(self, context: Any, n: int = 1) -> Choice:
        """Choose ``n`` distinct actions per context row, with their marginal propensities."""
        self._check_fitted()
        X = self._context(context)
        n = self._check_n(n)
        scores = self._modes(X, self.rng_)
        rows = X.shape[0]
        h = self.rng_.integers(0, scores.shape[0], rows)
        ranking = self._rank(scores[h, np.arange(rows)])[:, :n]
        eps = float(getattr(self, "epsilon", 0.0))
        if eps > 0:
            explore = self.rng_.random(rows) < eps
            if explore.any():
                perm = np.argsort(self.rng_.random((int(explore.sum()), self.n_actions_)), axis=1)
                ranking[explore] = perm[:, :n]
        probs = self._distribution(X, scores, n)
        prop = np.take_along_axis(probs, ranking[:, None, :], axis=1)[:, 0, :]
        return Choice(ranking.astype(np.int64), prop)

    # ----------------------------------------------------------------- contract test
    @classmethod
    def _contract_example(cls) -> tuple[Policy, dict, dict]:
        """A policy trained on a few rounds of a toy contextual problem (arm 0 pays when
        ``x0 > 0``, arm 1 otherwise), good inputs and bad ones (a slate longer than the arms)."""
        rng = np.random.default_rng(0)
        k, d = 5, 3
        policy = cls().fit(k, d)
        for _ in range(4):
            X = rng.normal(size=(100, d))
            p = np.full((100, k), 0.05)
            p[:, 0] = np.where(X[:, 0] > 0, 0.6, 0.1)
            p[:, 1] = np.where(X[:, 0] > 0, 0.1, 0.6)
            ch = policy.choose(X)
            r = (rng.random(100) < p[np.arange(100), ch.actions[:, 0]]).astype(float)
            policy.update(X, ch.actions[:, 0], r, ch.propensity[:, 0])
        X = rng.normal(size=(10, d))
        return policy, {"context": X, "n": 2}, {"context": X, "n": k + 1}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        self._check_fitted()
        # sampling policies draw from their generator: compare them on the same draws
        kept, self.rng_ = self.rng_, np.random.default_rng(0)
        try:
            return {"probabilities": self.probabilities(inputs["context"], inputs["n"])}
        finally:
            self.rng_ = kept

    def probabilities(self, context: Any, n: int = 1) -> np.ndarray:
        """``(rows, n_actions, n)``: probability of each action at each of ``n`` positions."""
        self._check_fitted()
        X = self._context(context)
        n = self._check_n(n)
        return self._distribution(X, self._modes(X, self.rng_), n)

    def update(
        self,
        context: Any,
        action: Any,
        reward: Any,
        propensity: Any = None,
        position: Any = None,
    ) -> Policy:
        """Learn from observed rewards; ``position`` (1-based) weights by its examination."""
        self._check_fitted()
        X = self._context(context)
        rows = X.shape[0]
        a = np.asarray(action).ravel()
        r = np.asarray(reward, dtype=np.float64).ravel()
        if a.size != rows or r.size != rows:
            raise ValidationError(
                f"action ({a.size}) and reward ({r.size}) need one value per context row ({rows})"
            )
        if not np.issubdtype(a.dtype, np.integer):
            if not np.all(np.mod(a.astype(float), 1) == 0):
                raise ValidationError("action must hold integer arm indices")
            a = a.astype(np.int64)
        if a.size and (a.min() < 0 or a.max() >= self.n_actions_):
            raise ValidationError(f"action out of range: arms are 0..{self.n_actions_ - 1}")
        if not np.isfinite(r).all():
            raise ValidationError("reward holds NaN or infinite values")
        if propensity is not None:
            p = np.asarray(propensity, dtype=np.float64).ravel()
            if p.size != rows or not np.all((p > 0) & (p <= 1)):
                raise ValidationError("propensity must be one value in (0, 1] per row")
        w = self._exposure(position, rows)
        self._update(X, a.astype(np.int64), r, w)
        self.t_ += rows
        return self

    # ----------------------------------------------------------------- helpers
    def _context(self, context: Any) -> np.ndarray:
        X = as_context(context, self.n_features_ if self.contextual else None)
        return X

    def _check_n(self, n: int) -> int:
        if (
            isinstance(n, bool)
            or not isinstance(n, int | np.integer)
            or not 1 <= n <= self.n_actions_
        ):
            raise ValidationError(f"n (slate size) must be in 1..{self.n_actions_}, got {n!r}")
        return int(n)

    def _check_examination(self) -> None:
        ex = getattr(self, "examination", None)
        if ex is None:
            return
        e = np.asarray(ex, dtype=float)
        if e.ndim != 1 or e.size == 0 or not np.all((e > 0) & (e <= 1)):
            raise ValidationError(
                f"examination must be probabilities in (0, 1] per position, got {ex!r}"
            )

    def _exposure(self, position: Any, rows: int) -> np.ndarray:
        """Examination probability of each row's position (1 without a click model)."""
        ex = getattr(self, "examination", None)
        if position is None or ex is None:
            return np.ones(rows)
        pos = np.asarray(position).ravel().astype(np.int64)
        e = np.asarray(ex, dtype=float)
        if pos.size != rows or pos.min() < 1 or pos.max() > e.size:
            raise ValidationError(f"position must be 1..{e.size} (one per row)")
        return e[pos - 1]

    def _rank(self, scores: np.ndarray) -> np.ndarray:
        """Arms by decreasing score; ties go to the arm earlier in the fixed priority order."""
        permuted = scores[..., self.priority_]
        order = np.argsort(-permuted, axis=-1, kind="stable")
        return self.priority_[order]

    def _distribution(self, X: np.ndarray, scores: np.ndarray, n: int) -> np.ndarray:
        """Marginal P(action at position k) over the modes, mixed with ε-uniform exploration."""
        H, rows, K = scores.shape
        ranking = self._rank(scores)[..., :n]  # (H, rows, n)
        probs = np.zeros((rows, K, n))
        r_idx = np.broadcast_to(np.arange(rows)[None, :, None], ranking.shape)
        k_idx = np.broadcast_to(np.arange(n)[None, None, :], ranking.shape)
        np.add.at(probs, (r_idx.ravel(), ranking.ravel(), k_idx.ravel()), 1.0 / H)
        eps = float(getattr(self, "epsilon", 0.0))
        if eps > 0:
            probs = (1 - eps) * probs + eps / K
        return np.minimum(probs, 1.0)  # H sums of 1/H can round to 1 + 1e-16

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _init(self) -> None:
        """Set the cold-start state (``n_actions_``, ``n_features_`` are known)."""

    @abstractmethod
    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``(H, rows, n_actions)`` equally likely score vectors."""

    @abstractmethod
    def _update(self, X: np.ndarray, a: np.ndarray, r: np.ndarray, w: np.ndarray) -> None:
        """Learn from rows (context, arm, reward, examination weight)."""

    def _base_state(self) -> dict[str, np.ndarray]:
        return {"priority": self.priority_, "rng_state": _rng_state(self.rng_)}

    def _get_state(self) -> dict[str, np.ndarray]:
        return self._base_state()

    def _meta(self) -> dict[str, Any]:
        return {"n_actions": self.n_actions_, "n_features": self.n_features_, "t": self.t_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.n_actions_ = int(meta["n_actions"])
        self.n_features_ = int(meta["n_features"])
        self.t_ = int(meta["t"])
        self.priority_ = arrays["priority"].astype(np.int64)
        self.rng_ = np.random.default_rng()
        self.rng_.bit_generator.state = _rng_from(arrays["rng_state"])


def _rng_state(rng: np.random.Generator) -> np.ndarray:
    """The generator's state as a string array (JSON), so a loaded policy continues the stream."""
    import json

    return np.array([json.dumps(rng.bit_generator.state)])


def _rng_from(arr: np.ndarray) -> dict:
    import json

    return json.loads(str(arr[0]))


def sherman_morrison_waves(
    A_inv: np.ndarray, b: np.ndarray, X: np.ndarray, a: np.ndarray, y: np.ndarray, w: np.ndarray
) -> None:
    """In place: per-arm ridge statistics ``A_inv[a] <- (A[a] + w x x^T)^-1``, ``b[a] += w y x``.

    Rank-one Sherman–Morrison updates, no matrix inverse. Rows are grouped in waves in which each
    arm appears at most once, so one batched update per wave applies every arm's next row; within
    an arm rows keep their order (the result equals the sequential updates exactly).
    """
    if a.size == 0:
        return
    order = np.argsort(a, kind="stable")
    sa = a[order]
    start = np.r_[0, np.flatnonzero(np.diff(sa)) + 1]
    counts = np.diff(np.r_[start, sa.size])
    rank = np.arange(sa.size) - np.repeat(start, counts)  # occurrence number within the arm
    for k in range(int(rank.max()) + 1):
        rows = order[rank == k]
        arms = a[rows]
        x = X[rows]
        Ai = A_inv[arms]  # (m, d, d)
        Ax = np.einsum("mij,mj->mi", Ai, x)
        denom = 1.0 + w[rows] * np.einsum("mi,mi->m", x, Ax)
        A_inv[arms] = Ai - (w[rows] / denom)[:, None, None] * Ax[:, :, None] * Ax[:, None, :]
        b[arms] += (w[rows] * y[rows])[:, None] * x
