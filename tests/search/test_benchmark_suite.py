import numpy as np
import pandas as pd

from shopml.benchmarks.runner import get_suite
from shopml.benchmarks.search import _paired_ci, _row_folds, subset


def test_suite_is_registered():
    assert get_suite("search").__module__ == "shopml.benchmarks.search"


def test_folds_never_split_a_query():
    group = np.array([0, 0, 1, 2, 2, 2, 3, 1])
    folds = _row_folds([np.array([0, 3]), np.array([1, 2])], group, n_q=4)
    for train, test in folds:
        assert not set(group[train]) & set(group[test])
        assert len(train) + len(test) == len(group)
    np.testing.assert_array_equal(folds[0][1], [0, 1, 6])


def test_quick_subset_keeps_whole_queries():
    j = pd.DataFrame({"query": list("aabbbcdd"), "item_id": list("12345678"), "relevance": 2.0})
    sub = subset(j, n_queries=2, seed=0)
    assert sub["query"].nunique() == 2
    counts = j["query"].value_counts()
    assert all(counts[q] == n for q, n in sub["query"].value_counts().items())


def test_paired_ci_brackets_the_mean():
    rng = np.random.default_rng(0)
    b = rng.random(500)
    ci = _paired_ci(b + 0.05 + rng.normal(0, 0.01, 500), b)
    assert ci["ci95"][0] < ci["mean"] < ci["ci95"][1]
    assert abs(ci["mean"] - 0.05) < 0.005
