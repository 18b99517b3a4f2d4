import numpy as np
import pytest
from scipy.stats import spearmanr

from shopml.benchmarks.search import run
from shopml.benchmarks.search_clicks import _rank_corr, run_clicks
from shopml.core.errors import ValidationError


def test_rank_corr_matches_scipy_per_group():
    rng = np.random.default_rng(0)
    g = np.repeat([0, 1, 2], [5, 7, 6])
    a, b = rng.random(18), rng.random(18)
    b[5:12] = a[5:12] ** 2  # monotone: correlation 1
    got = _rank_corr(g, a, b)
    want = [spearmanr(a[g == k], b[g == k])[0] for k in range(3)]
    np.testing.assert_allclose(got, want)
    assert got[1] == pytest.approx(1.0)


def test_unknown_task_and_dataset():
    with pytest.raises(ValidationError, match="clicks"):
        run(dataset="homedepot", task="nope")
    with pytest.raises(ValidationError, match="synthetic"):
        run_clicks("homedepot")
