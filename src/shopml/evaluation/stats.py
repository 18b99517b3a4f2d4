"""Uncertainty of per-user metric means: bootstrap intervals and paired tests between models."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import stats

from shopml.core.errors import ValidationError

# resample at most this many values at once, so a million users never need a 1000× copy in memory
_CHUNK_VALUES = 4_000_000


@dataclass(frozen=True)
class ConfidenceInterval:
    """A mean with its percentile-bootstrap interval at ``level``."""

    mean: float
    low: float
    high: float
    level: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass(frozen=True)
class PairedTest:
    """Comparison of two models on the same users: ``a - b``.

    ``t_pvalue`` (paired t-test), ``wilcoxon_pvalue`` (signed-rank; 1.0 when every difference is
    zero) and ``bootstrap_pvalue`` (two-sided, from the paired bootstrap of the mean difference)
    answer "is the mean difference zero?"; ``low``/``high`` bound the difference at ``level``.
    """

    n: int
    mean_diff: float
    low: float
    high: float
    level: float
    t_stat: float
    t_pvalue: float
    wilcoxon_stat: float
    wilcoxon_pvalue: float
    bootstrap_pvalue: float

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def bootstrap_means(values: np.ndarray, n: int = 1000, seed: int = 0) -> np.ndarray:
    """Means of ``n`` bootstrap resamples of ``values`` (users drawn with replacement)."""
    values = _as_values(values, "values")
    if n < 1:
        raise ValidationError(f"n (bootstrap resamples) must be >= 1, got {n}")
    rng = np.random.default_rng(seed)
    m = len(values)
    per_chunk = max(1, _CHUNK_VALUES // m)
    out = np.empty(n, dtype=np.float64)
    for start in range(0, n, per_chunk):
        size = min(per_chunk, n - start)
        idx = rng.integers(0, m, size=(size, m))
        out[start : start + size] = values[idx].mean(axis=1)
    return out


def bootstrap_ci(
    values: np.ndarray, n: int = 1000, seed: int = 0, level: float = 0.95
) -> ConfidenceInterval:
    """Percentile-bootstrap confidence interval of the mean of ``values``."""
    _check_level(level)
    values = _as_values(values, "values")
    means = bootstrap_means(values, n=n, seed=seed)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    return ConfidenceInterval(float(values.mean()), float(lo), float(hi), level)


def paired_test(
    a: np.ndarray, b: np.ndarray, n: int = 1000, seed: int = 0, level: float = 0.95
) -> PairedTest:
    """Paired t-test, Wilcoxon signed-rank test and paired bootstrap of ``mean(a - b)``.

    ``a`` and ``b`` are per-user values of one metric for two models on the same users, in the
    same order.
    """
    _check_level(level)
    a = _as_values(a, "a")
    b = _as_values(b, "b")
    if a.shape != b.shape:
        raise ValidationError(f"paired values need equal lengths, got {len(a)} and {len(b)}")
    d = a - b
    if np.allclose(d, 0.0):
        t_stat, t_p, w_stat, w_p = 0.0, 1.0, 0.0, 1.0
    else:
        if len(d) < 2:
            raise ValidationError("a paired test needs at least 2 users")
        t = stats.ttest_rel(a, b)
        w = stats.wilcoxon(d, zero_method="wilcox")
        t_stat, t_p, w_stat, w_p = (
            float(t.statistic),
            float(t.pvalue),
            float(w.statistic),
            float(w.pvalue),
        )
    means = bootstrap_means(d, n=n, seed=seed)
    lo, hi = np.quantile(means, [(1 - level) / 2, (1 + level) / 2])
    # two-sided: how often the resampled difference lands on the other side of zero
    if d.mean() == 0:
        boot_p = 1.0
    else:
        other_side = np.mean(means <= 0) if d.mean() > 0 else np.mean(means >= 0)
        boot_p = float(min(1.0, 2 * other_side))
    return PairedTest(
        n=len(d),
        mean_diff=float(d.mean()),
        low=float(lo),
        high=float(hi),
        level=level,
        t_stat=t_stat,
        t_pvalue=t_p,
        wilcoxon_stat=w_stat,
        wilcoxon_pvalue=w_p,
        bootstrap_pvalue=boot_p,
    )


def _as_values(values: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=np.float64)
    if arr.ndim != 1 or len(arr) == 0:
        raise ValidationError(
            f"{name} must be a non-empty 1-d array of per-user values, got shape {arr.shape}"
        )
    if not np.isfinite(arr).all():
        raise ValidationError(f"{name} holds non-finite values")
    return arr


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ValidationError(f"level must be in (0, 1), got {level}")
