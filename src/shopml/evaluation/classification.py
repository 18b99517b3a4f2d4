"""Metrics of probabilistic binary predictions, with bootstrap intervals and paired comparisons.

``y`` holds 0/1 labels, ``p`` predicted probabilities of 1 (or any score, for the ranking
metrics ``auc``, ``auprc`` and ``recall@fpr``). AUPRC is average precision (the step-wise area,
scikit-learn's ``average_precision_score``), not the trapezoidal area, which is optimistic.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from shopml.core.errors import ValidationError
from shopml.evaluation.stats import ConfidenceInterval, bootstrap_ci

_EPS = 1e-15


def _check(
    y: np.ndarray, p: np.ndarray, probabilities: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=np.float64).ravel()
    p = np.asarray(p, dtype=np.float64).ravel()
    if y.shape != p.shape or len(y) == 0:
        raise ValidationError(
            f"y and p must be non-empty and of equal length, got {len(y)} and {len(p)}"
        )
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValidationError(
            f"y must be 0/1 labels; found {np.unique(y[~np.isin(y, (0.0, 1.0))])[:5].tolist()}"
        )
    if not np.isfinite(p).all():
        raise ValidationError("p holds NaN or infinite values")
    if probabilities and ((p < 0) | (p > 1)).any():
        raise ValidationError("p must be probabilities in [0, 1]")
    return y, p


def _both_classes(y: np.ndarray, name: str) -> None:
    if y.min() == y.max():
        raise ValidationError(f"{name} needs both classes in y; all labels are {int(y[0])}")


def roc_auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count half)."""
    from sklearn.metrics import roc_auc_score

    y, p = _check(y, p, probabilities=False)
    _both_classes(y, "AUC")
    return float(roc_auc_score(y, p))


def auprc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the precision-recall curve as average precision."""
    from sklearn.metrics import average_precision_score

    y, p = _check(y, p, probabilities=False)
    _both_classes(y, "AUPRC")
    return float(average_precision_score(y, p))


def log_loss_values(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Per-row negative log-likelihood (probabilities clipped to ``[1e-15, 1 - 1e-15]``)."""
    y, p = _check(y, p)
    p = np.clip(p, _EPS, 1 - _EPS)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def log_loss(y: np.ndarray, p: np.ndarray) -> float:
    """Mean negative log-likelihood."""
    return float(log_loss_values(y, p).mean())


def brier(y: np.ndarray, p: np.ndarray) -> float:
    """Mean squared error of the probabilities."""
    y, p = _check(y, p)
    return float(np.mean((p - y) ** 2))


def recall_at_fpr(y: np.ndarray, p: np.ndarray, fpr: float) -> float:
    """The largest true-positive rate reachable with a threshold whose false-positive rate is at
    most ``fpr`` (thresholds between distinct scores only: tied rows are flagged together)."""
    from sklearn.metrics import roc_curve

    if not 0 <= fpr <= 1:
        raise ValidationError(f"fpr must be in [0, 1], got {fpr}")
    y, p = _check(y, p, probabilities=False)
    _both_classes(y, "recall at FPR")
    f, t, _ = roc_curve(y, p, drop_intermediate=False)
    return float(t[f <= fpr + 1e-12].max())


def threshold_at_fpr(y: np.ndarray, p: np.ndarray, fpr: float) -> float:
    """The lowest score threshold (flag ``p >= threshold``) whose false-positive rate on
    ``(y, p)`` is at most ``fpr``: choose it on validation data, apply it to test data."""
    from sklearn.metrics import roc_curve

    y, p = _check(y, p, probabilities=False)
    _both_classes(y, "threshold at FPR")
    f, _, thr = roc_curve(y, p, drop_intermediate=False)
    ok = np.flatnonzero(f <= fpr + 1e-12)
    return float(min(thr[ok[-1]], np.inf))


def classification_metrics(
    y: np.ndarray, p: np.ndarray, fprs: Sequence[float] = (0.01, 0.05), probabilities: bool = True
) -> dict[str, float]:
    """``auc``, ``auprc``, ``recall@{fpr}fpr`` per entry of ``fprs`` and, for probabilities,
    ``log_loss`` and ``brier``; also the base rate ``positive_rate`` and ``n``."""
    y, p = _check(y, p, probabilities=probabilities)
    out = {"auc": roc_auc(y, p), "auprc": auprc(y, p)}
    for f in fprs:
        out[f"recall@{100 * f:g}%fpr"] = recall_at_fpr(y, p, f)
    if probabilities:
        out["log_loss"] = log_loss(y, p)
        out["brier"] = brier(y, p)
    out["positive_rate"] = float(y.mean())
    out["n"] = float(len(y))
    return out


Metric = Callable[[np.ndarray, np.ndarray], float]
METRICS: dict[str, Metric] = {"auc": roc_auc, "auprc": auprc, "log_loss": log_loss, "brier": brier}


def _resample_counts(y: np.ndarray, n: int, seed: int, chunk: int) -> list[np.ndarray]:
    """How often each row is drawn in each of ``n`` bootstrap resamples (``(k, len(y))`` count
    matrices of at most ``chunk`` resamples), stratified by class so that every resample keeps
    the original numbers of positives and negatives (rare positives would otherwise vanish)."""
    rng = np.random.default_rng(seed)
    pos, neg = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    out = []
    for start in range(0, n, chunk):
        k = min(chunk, n - start)
        W = np.zeros((k, len(y)), dtype=np.float64)
        W[:, pos] = rng.multinomial(len(pos), np.full(len(pos), 1.0 / len(pos)), size=k)
        W[:, neg] = rng.multinomial(len(neg), np.full(len(neg), 1.0 / len(neg)), size=k)
        out.append(W)
    return out


def weighted_auc_auprc(
    y: np.ndarray, p: np.ndarray, W: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """AUC and average precision of ``p`` for each row of weights ``W`` (``(k, n)``), at once.

    Rows are sorted by score once; tied scores form one threshold (AUC counts ties half, average
    precision steps once per distinct score), as scikit-learn's metrics do. A bootstrap
    resample is a row of counts, so this computes a thousand resamples' metrics in a few array
    passes instead of a thousand sorts.
    """
    order = np.argsort(-p, kind="stable")
    ps, ys = p[order], y[order]
    Ws = W[:, order]
    starts = np.flatnonzero(np.r_[True, ps[1:] != ps[:-1]])
    pos = np.add.reduceat(Ws * ys, starts, axis=1)  # weighted positives per tie group, high to low
    negw = np.add.reduceat(Ws * (1 - ys), starts, axis=1)
    P, N = pos.sum(axis=1), negw.sum(axis=1)
    neg_below = N[:, None] - np.cumsum(negw, axis=1)  # negatives scored strictly lower
    auc = (pos * (neg_below + 0.5 * negw)).sum(axis=1) / (P * N)
    tp, fp = np.cumsum(pos, axis=1), np.cumsum(negw, axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
    ap = (pos / P[:, None] * precision).sum(axis=1)
    return auc, ap


def _fast(metric: str | Metric) -> str | None:
    if metric in ("auc", roc_auc):
        return "auc"
    if metric in ("auprc", auprc):
        return "auprc"
    return None


def _chunk(n_rows: int) -> int:
    return max(1, 4_000_000 // max(n_rows, 1))


def bootstrap_metric(
    y: np.ndarray,
    p: np.ndarray,
    metric: str | Metric,
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> ConfidenceInterval:
    """Percentile bootstrap interval of any metric (rows resampled, stratified by class).

    Means of per-row values (log loss, Brier) use :func:`shopml.evaluation.stats.bootstrap_ci`;
    AUC and AUPRC are computed for all resamples at once (:func:`weighted_auc_auprc`).
    """
    fn = METRICS[metric] if isinstance(metric, str) else metric
    y, p = _check(y, p, probabilities=False)
    _both_classes(y, "a bootstrap interval")
    if fn is brier:
        return bootstrap_ci((p - y) ** 2, n=n, seed=seed, level=level)
    if fn is log_loss:
        return bootstrap_ci(log_loss_values(y, p), n=n, seed=seed, level=level)
    if not 0 < level < 1:
        raise ValidationError(f"level must be in (0, 1), got {level}")
    stats = _boot_stats(y, [p], fn, n, seed)[0]
    lo, hi = np.quantile(stats, [(1 - level) / 2, (1 + level) / 2])
    return ConfidenceInterval(fn(y, p), float(lo), float(hi), level)


def _boot_stats(
    y: np.ndarray, ps: list[np.ndarray], fn: Metric, n: int, seed: int
) -> list[np.ndarray]:
    """The metric on the same ``n`` resamples, for each score array in ``ps``."""
    fast = _fast(fn)
    out: list[list[np.ndarray]] = [[] for _ in ps]
    for W in _resample_counts(y, n, seed, _chunk(len(y))):
        for j, p in enumerate(ps):
            if fast is not None:
                auc, ap = weighted_auc_auprc(y, p, W)
                out[j].append(auc if fast == "auc" else ap)
            else:  # any other metric: materialise each resample's rows
                idx = [np.repeat(np.arange(len(y)), w.astype(np.int64)) for w in W]
                out[j].append(np.array([fn(y[i], p[i]) for i in idx]))
    return [np.concatenate(o) for o in out]


def paired_bootstrap(
    y: np.ndarray,
    p_a: np.ndarray,
    p_b: np.ndarray,
    metric: str | Metric = "auc",
    n: int = 1000,
    seed: int = 0,
    level: float = 0.95,
) -> dict[str, float]:
    """Difference ``metric(a) - metric(b)`` on the same rows, its bootstrap interval and a
    two-sided p-value (how often the resampled difference lands on the other side of zero)."""
    fn = METRICS[metric] if isinstance(metric, str) else metric
    y, p_a = _check(y, p_a, probabilities=False)
    _, p_b = _check(y, p_b, probabilities=False)
    _both_classes(y, "a paired bootstrap")
    a, b = _boot_stats(y, [p_a, p_b], fn, n, seed)
    diffs = a - b
    d = fn(y, p_a) - fn(y, p_b)
    lo, hi = np.quantile(diffs, [(1 - level) / 2, (1 + level) / 2])
    other = np.mean(diffs <= 0) if d > 0 else np.mean(diffs >= 0)
    return {
        "diff": float(d),
        "low": float(lo),
        "high": float(hi),
        "level": level,
        "p_value": float(min(1.0, 2 * other)) if d != 0 else 1.0,
    }


__all__ = [
    "METRICS",
    "auprc",
    "bootstrap_metric",
    "brier",
    "classification_metrics",
    "log_loss",
    "log_loss_values",
    "paired_bootstrap",
    "recall_at_fpr",
    "roc_auc",
    "threshold_at_fpr",
    "weighted_auc_auprc",
]
