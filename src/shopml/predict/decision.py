"""Decisions from calibrated probabilities: the Bayes minimum-risk threshold for a cost matrix.

Acting (flag, block, target) on a row with P(y=1) = p costs ``p·tp + (1-p)·fp`` in expectation;
not acting costs ``p·fn + (1-p)·tn``. Acting is the better choice exactly when

    p >= (fp - tn) / ((fp - tn) + (fn - tp))

Costs may be scalars or per-row arrays (a missed fraud costs the order's value), so the
threshold may differ per row. This is only optimal when ``p`` is calibrated: calibrate first
(:mod:`shopml.predict.calibration`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from shopml.core.errors import ValidationError

Cost = Any  # float or array of per-row costs


@dataclass(frozen=True)
class CostMatrix:
    """Cost of each outcome: ``tp`` act on a positive, ``fp`` act on a negative, ``fn`` miss a
    positive, ``tn`` leave a negative alone. Benefits are negative costs."""

    tp: Cost = 0.0
    fp: Cost = 1.0
    fn: Cost = 1.0
    tn: Cost = 0.0

    def arrays(self, n: int) -> tuple[np.ndarray, ...]:
        out = []
        for name in ("tp", "fp", "fn", "tn"):
            a = np.asarray(getattr(self, name), dtype=np.float64)
            if a.ndim == 0:
                a = np.full(n, float(a))
            if a.shape != (n,):
                raise ValidationError(f"cost {name} must be a number or {n} per-row values, got shape {a.shape}")
            if not np.isfinite(a).all():
                raise ValidationError(f"cost {name} holds non-finite values")
            out.append(a)
        return tuple(out)

    def as_dict(self) -> dict[str, Any]:
        return {k: (v if np.ndim(v) == 0 else "per-row") for k, v in asdict(self).items()}


def _probs(p: Any) -> np.ndarray:
    p = np.asarray(p, dtype=np.float64).ravel()
    if not np.isfinite(p).all() or ((p < 0) | (p > 1)).any():
        raise ValidationError("p must be probabilities in [0, 1]")
    return p


def bayes_threshold(costs: CostMatrix, n: int | None = None) -> float | np.ndarray:
    """The minimum-risk threshold on P(y=1): a number for scalar costs, else one per row.

    Acting must be worth it on positives (``fn > tp``) and cost something on negatives
    (``fp >= tn``); otherwise the decision does not depend on ``p`` and this raises.
    """
    scalar = all(np.ndim(getattr(costs, k)) == 0 for k in ("tp", "fp", "fn", "tn"))
    tp, fp, fn, tn = costs.arrays(1 if scalar else int(n if n is not None else _len(costs)))
    gain_pos, loss_neg = fn - tp, fp - tn
    if (gain_pos <= 0).any() or (loss_neg < 0).any():
        raise ValidationError(
            "cost matrix must have fn > tp (acting helps on positives) and fp >= tn "
            "(acting costs on negatives); otherwise always or never act"
        )
    t = loss_neg / (loss_neg + gain_pos)
    return float(t[0]) if scalar else t


def _len(costs: CostMatrix) -> int:
    sizes = {np.size(getattr(costs, k)) for k in ("tp", "fp", "fn", "tn") if np.ndim(getattr(costs, k))}
    if len(sizes) != 1:
        raise ValidationError(f"per-row costs must all have the same length, got {sorted(sizes)}")
    return sizes.pop()


def decide(p: Any, costs: CostMatrix) -> np.ndarray:
    """1 where acting has the lower expected cost (Bayes minimum risk), else 0."""
    p = _probs(p)
    return (p >= bayes_threshold(costs, len(p))).astype(np.int8)


def expected_cost(p: Any, costs: CostMatrix, decisions: Any | None = None) -> np.ndarray:
    """Per-row expected cost under the model's probabilities of the given (or the Bayes) decisions."""
    p = _probs(p)
    d = decide(p, costs) if decisions is None else np.asarray(decisions, dtype=np.float64)
    tp, fp, fn, tn = costs.arrays(len(p))
    return d * (p * tp + (1 - p) * fp) + (1 - d) * (p * fn + (1 - p) * tn)


def realised_cost(y: Any, decisions: Any, costs: CostMatrix) -> dict[str, float]:
    """What the decisions actually cost on labelled rows: total, per row and the outcome counts."""
    y = np.asarray(y, dtype=np.float64).ravel()
    d = np.asarray(decisions, dtype=np.float64).ravel()
    if y.shape != d.shape:
        raise ValidationError(f"y has {len(y)} values but decisions has {len(d)}")
    tp, fp, fn, tn = costs.arrays(len(y))
    c = d * y * tp + d * (1 - y) * fp + (1 - d) * y * fn + (1 - d) * (1 - y) * tn
    return {
        "total_cost": float(c.sum()),
        "cost_per_row": float(c.mean()),
        "flagged": float(d.sum()),
        "tp": float((d * y).sum()),
        "fp": float((d * (1 - y)).sum()),
        "fn": float(((1 - d) * y).sum()),
    }


def best_threshold(y: Any, p: Any, costs: CostMatrix) -> tuple[float, float]:
    """The single threshold on ``p`` with the lowest realised cost on labelled rows (choose on
    validation rows); returns ``(threshold, total_cost)``. Vectorised over sorted scores."""
    y = np.asarray(y, dtype=np.float64).ravel()
    p = _probs(p)
    tp, fp, fn, tn = costs.arrays(len(y))
    order = np.argsort(-p, kind="stable")
    # flagging the top k rows: cost = sum over flagged of act-cost + sum over the rest of miss-cost
    act = np.where(y == 1, tp, fp)[order]
    miss = np.where(y == 1, fn, tn)[order]
    cost_k = np.concatenate([[miss.sum()], miss.sum() + np.cumsum(act - miss)])
    ps = p[order]
    # only cut between distinct scores (rows with equal p are flagged together)
    valid = np.concatenate([[True], np.r_[ps[1:] != ps[:-1], True]])
    k = int(np.flatnonzero(valid)[np.argmin(cost_k[valid])])
    thr = 1.0 + 1e-12 if k == 0 else float(ps[k - 1])
    return thr, float(cost_k[k])


__all__ = ["CostMatrix", "bayes_threshold", "best_threshold", "decide", "expected_cost", "realised_cost"]
