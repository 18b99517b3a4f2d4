r"""Off-policy evaluation: the value of a policy estimated from another policy's logs.

Notation (one logged row ``i`` = one action at one position, as in the Open Bandit Pipeline):
reward :math:`r_i`, logged action :math:`a_i` at position :math:`k_i`, logging propensity
:math:`p_i`, evaluation policy :math:`\pi(a \mid x_i, k_i)`, importance weight
:math:`w_i = \pi(a_i \mid x_i, k_i) / p_i`, reward model :math:`\hat q(x, a, k)` and its value
under the policy :math:`\hat q_\pi(x_i) = \sum_a \pi(a \mid x_i, k_i)\, \hat q(x_i, a, k_i)`.
Each estimator is the mean of a per-row term (self-normalised ones divide by :math:`\bar w`):

================  ===========================================================================
DM                :math:`\hat q_\pi(x_i)`
IPS               :math:`w_i r_i`
SNIPS             :math:`w_i r_i / \bar w`
DR                :math:`\hat q_\pi(x_i) + w_i (r_i - \hat q(x_i, a_i, k_i))`
SNDR              :math:`\hat q_\pi(x_i) + w_i (r_i - \hat q_i) / \bar w`
Switch-DR(tau)    :math:`\hat q_\pi(x_i) + w_i 1[w_i \le \tau] (r_i - \hat q_i)`
DRos(lambda)      :math:`\hat q_\pi(x_i) + \frac{\lambda w_i}{w_i^2 + \lambda} (r_i - \hat q_i)`
================  ===========================================================================

(Dudík et al. 2011; Swaminathan & Joachims 2015; Wang et al. 2017; Su et al. 2020.)
``tau`` and ``lambda`` are chosen without ground truth by SLOPE (Su, Srinath & Krishnamurthy
2020; Tucker & Lee 2021): candidates ordered from most to least variance are accepted while each
one's confidence interval overlaps every accepted one's; the last accepted wins. Confidence
intervals come from the bootstrap over logged rows.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError

SWITCH_TAUS = (1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, np.inf)
DROS_LAMBDAS = (1.0, 5.0, 10.0, 50.0, 100.0, 500.0, 1000.0, 5000.0, 10000.0, np.inf)
ESTIMATORS = ("dm", "ips", "snips", "dr", "sndr", "switch_dr", "dros")
SLOPE_C = np.sqrt(6.0) - 1.0


@dataclass(frozen=True)
class BanditLogs:
    """Logged bandit feedback: one row per shown action (``position`` is 1-based)."""

    action: np.ndarray
    reward: np.ndarray
    propensity: np.ndarray
    position: np.ndarray | None = None
    context: np.ndarray | None = None
    extra: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = np.asarray(self.action).size
        for name in ("reward", "propensity"):
            v = np.asarray(getattr(self, name))
            if v.size != n:
                raise ValidationError(f"logs: {name} has {v.size} values, action has {n}")
        p = np.asarray(self.propensity, dtype=float)
        if n == 0:
            raise ValidationError("logs are empty")
        if not np.all((p > 0) & (p <= 1)):
            bad = int(np.argmax(~((p > 0) & (p <= 1))))
            raise ValidationError(f"logs: propensity must be in (0, 1]; row {bad} has {p[bad]}")
        if not np.isfinite(np.asarray(self.reward, dtype=float)).all():
            raise ValidationError("logs: reward holds NaN or infinite values")
        if self.position is not None and np.asarray(self.position).min() < 1:
            raise ValidationError("logs: position is 1-based")

    def __len__(self) -> int:
        return int(np.asarray(self.action).size)

    @property
    def pos0(self) -> np.ndarray:
        """0-based positions (all 0 without positions)."""
        if self.position is None:
            return np.zeros(len(self), dtype=np.int64)
        return np.asarray(self.position, dtype=np.int64) - 1

    def take(self, idx: np.ndarray) -> BanditLogs:
        """The rows ``idx`` (e.g. a bootstrap resample)."""
        return BanditLogs(
            np.asarray(self.action)[idx],
            np.asarray(self.reward)[idx],
            np.asarray(self.propensity)[idx],
            None if self.position is None else np.asarray(self.position)[idx],
            None if self.context is None else np.asarray(self.context)[idx],
        )


def _check(logs: BanditLogs, action_dist: np.ndarray, q: np.ndarray | None) -> None:
    n = len(logs)
    pi = np.asarray(action_dist)
    if pi.ndim != 3 or pi.shape[0] != n:
        raise ValidationError(f"action_dist must be (rows={n}, actions, positions), got {pi.shape}")
    if np.asarray(logs.action).max() >= pi.shape[1]:
        raise ValidationError(
            f"logs hold action {int(np.max(logs.action))} but action_dist has {pi.shape[1]} actions"
        )
    if int(logs.pos0.max()) >= pi.shape[2]:
        raise ValidationError(
            f"logs hold position {int(logs.pos0.max()) + 1}; action_dist has {pi.shape[2]}"
        )
    if q is not None and np.shape(q) != pi.shape:
        raise ValidationError(
            f"estimated_rewards must have action_dist's shape {pi.shape}, got {np.shape(q)}"
        )


def _pieces(logs: BanditLogs, pi: np.ndarray, q: np.ndarray | None):
    """Per row: importance weight, reward, model value under pi, model value of the logged action."""
    rows = np.arange(len(logs))
    a, k = np.asarray(logs.action, dtype=np.int64), logs.pos0
    w = pi[rows, a, k] / np.asarray(logs.propensity, dtype=float)
    r = np.asarray(logs.reward, dtype=float)
    if q is None:
        return w, r, None, None
    q_pi = np.einsum("na,na->n", pi[rows, :, k], q[rows, :, k])
    return w, r, q_pi, q[rows, a, k]


def round_rewards(
    name: str,
    logs: BanditLogs,
    action_dist: np.ndarray,
    estimated_rewards: np.ndarray | None = None,
    param: float | None = None,
) -> np.ndarray:
    """Per-row terms whose mean is the estimator ``name`` (see the module docstring)."""
    _check(logs, action_dist, estimated_rewards)
    w, r, q_pi, q_a = _pieces(logs, np.asarray(action_dist, float), estimated_rewards)
    if name == "ips":
        return w * r
    # no logged row the target would choose (mean weight 0): no evidence, the weights count 0
    wbar = w.mean() if w.mean() > 0 else np.inf
    if name == "snips":
        return w * r / wbar
    if q_pi is None:
        raise ValidationError(f"{name} needs estimated_rewards (a reward model)")
    if name == "dm":
        return q_pi
    if name == "dr":
        return q_pi + w * (r - q_a)
    if name == "sndr":
        return q_pi + w * (r - q_a) / wbar
    if name == "switch_dr":
        tau = np.inf if param is None else float(param)
        return q_pi + np.where(w <= tau, w, 0.0) * (r - q_a)
    if name == "dros":
        lam = np.inf if param is None else float(param)
        shrunk = (
            w
            if np.isinf(lam)
            else np.divide(lam * w, w * w + lam, out=np.zeros_like(w), where=w * w + lam > 0)
        )
        return q_pi + shrunk * (r - q_a)
    raise ValidationError(f"unknown estimator {name!r}; known: {list(ESTIMATORS)}")


def estimate(name: str, logs: BanditLogs, action_dist, estimated_rewards=None, param=None) -> float:
    """The estimated value (mean reward per logged row) of the evaluation policy."""
    return float(round_rewards(name, logs, action_dist, estimated_rewards, param).mean())


def slope(
    name: str, logs: BanditLogs, action_dist, estimated_rewards, candidates: Sequence[float]
) -> float:
    """SLOPE choice of ``tau`` (Switch-DR) or ``lambda`` (DRos); uses no ground truth."""
    n = len(logs)
    means, cnfs = [], []
    for c in candidates:
        rr = round_rewards(name, logs, action_dist, estimated_rewards, c)
        means.append(rr.mean())
        cnfs.append(rr.std(ddof=1) / np.sqrt(n) if n > 1 else 0.0)
    order = np.argsort(cnfs, kind="stable")[::-1]  # most variance (least bias) first
    kept_mean: list[float] = []
    kept_cnf: list[float] = []
    best = order[0]
    for idx in order:
        m, c = means[idx], cnfs[idx]
        if kept_mean and not np.all(
            np.abs(np.array(kept_mean) - m) <= c + SLOPE_C * np.array(kept_cnf)
        ):
            break
        kept_mean.append(m)
        kept_cnf.append(c)
        best = idx
    return float(candidates[best])


def bootstrap_ci(
    fn: Callable[[np.ndarray], float],
    n: int,
    n_bootstrap: int = 200,
    level: float = 0.95,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of ``fn(resampled row indices)`` over ``n_bootstrap`` resamples."""
    rng = np.random.default_rng(seed)
    vals = np.array([fn(rng.integers(0, n, n)) for _ in range(int(n_bootstrap))])
    lo, hi = np.quantile(vals, [(1 - level) / 2, (1 + level) / 2])
    return float(lo), float(hi)


def evaluate(
    logs: BanditLogs,
    action_dist: np.ndarray,
    estimated_rewards: np.ndarray | None = None,
    estimators: Sequence[str] = ESTIMATORS,
    n_bootstrap: int = 200,
    level: float = 0.95,
    seed: int = 0,
    taus: Sequence[float] = SWITCH_TAUS,
    lambdas: Sequence[float] = DROS_LAMBDAS,
) -> pd.DataFrame:
    """Every estimator's value with a bootstrap interval (tuned parameters chosen by SLOPE)."""
    pi = np.asarray(action_dist, dtype=float)
    _check(logs, pi, estimated_rewards)
    q = None if estimated_rewards is None else np.asarray(estimated_rewards, dtype=float)
    out = []
    for name in estimators:
        if q is None and name not in ("ips", "snips"):
            continue
        param = None
        if name == "switch_dr":
            param = slope(name, logs, pi, q, taus)
        elif name == "dros":
            param = slope(name, logs, pi, q, lambdas)
        value = estimate(name, logs, pi, q, param)
        lo, hi = (np.nan, np.nan)
        if n_bootstrap > 0:
            lo, hi = bootstrap_ci(
                lambda idx, name=name, param=param: estimate(
                    name, logs.take(idx), pi[idx], None if q is None else q[idx], param
                ),
                len(logs),
                n_bootstrap,
                level,
                seed,
            )
        out.append({"estimator": name, "value": value, "lower": lo, "upper": hi, "param": param})
    return pd.DataFrame(out)


__all__ = [
    "BanditLogs",
    "ESTIMATORS",
    "bootstrap_ci",
    "estimate",
    "evaluate",
    "round_rewards",
    "slope",
]
