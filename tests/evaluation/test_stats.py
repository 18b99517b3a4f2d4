import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation import bootstrap_ci, paired_test
from shopml.evaluation.stats import bootstrap_means


def test_bootstrap_ci_width_matches_normal_theory():
    rng = np.random.default_rng(0)
    x = rng.normal(0.4, 0.2, size=2000)
    ci = bootstrap_ci(x, n=1000, seed=0)
    se = x.std(ddof=1) / np.sqrt(len(x))
    assert ci.mean == pytest.approx(x.mean())
    assert ci.low < ci.mean < ci.high
    assert (ci.high - ci.low) == pytest.approx(2 * 1.96 * se, rel=0.15)


def test_bootstrap_is_seeded_and_chunked_consistently():
    x = np.arange(10.0)
    a, b = bootstrap_means(x, n=300, seed=5), bootstrap_means(x, n=300, seed=5)
    np.testing.assert_array_equal(a, b)
    ci = bootstrap_ci(np.full(50, 0.25), n=100)
    assert ci.low == ci.high == ci.mean == 0.25


def test_paired_test_detects_a_shift_and_not_noise():
    rng = np.random.default_rng(1)
    base = rng.uniform(0, 1, size=500)
    better = base + 0.05 + rng.normal(0, 0.05, size=500)
    res = paired_test(better, base, n=1000, seed=0)
    assert res.mean_diff == pytest.approx(np.mean(better - base))
    assert res.low > 0 and res.t_pvalue < 1e-6 and res.wilcoxon_pvalue < 1e-6
    assert res.bootstrap_pvalue < 0.01
    noise = base + rng.normal(0, 0.05, size=500)
    res = paired_test(noise, base, n=1000, seed=0)
    assert res.low < 0 < res.high and res.t_pvalue > 0.01


def test_paired_test_identical_models():
    x = np.linspace(0, 1, 20)
    res = paired_test(x, x)
    assert (
        res.mean_diff == 0
        and res.t_pvalue == 1.0
        and res.wilcoxon_pvalue == 1.0
        and res.bootstrap_pvalue == 1.0
    )


def test_paired_test_bad_input():
    with pytest.raises(ValidationError, match="equal lengths"):
        paired_test(np.ones(3), np.ones(4))
    with pytest.raises(ValidationError, match="non-finite"):
        bootstrap_ci(np.array([1.0, np.nan]))
    with pytest.raises(ValidationError, match="level"):
        bootstrap_ci(np.ones(3), level=95)
