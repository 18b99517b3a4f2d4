"""Bayes minimum-risk decisions from probabilities and a cost matrix."""

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.predict.decision import (
    CostMatrix,
    bayes_threshold,
    best_threshold,
    decide,
    expected_cost,
    realised_cost,
)


def test_threshold_formula_scalar_and_per_row():
    # missing a fraud costs 100, reviewing any order costs 5: act when p >= 5 / 100
    c = CostMatrix(tp=5, fp=5, fn=100, tn=0)
    assert bayes_threshold(c) == pytest.approx(5 / 100)
    per_row = CostMatrix(tp=5, fp=5, fn=np.array([10.0, 100.0, 1000.0]), tn=0)
    np.testing.assert_allclose(bayes_threshold(per_row), [0.5, 0.05, 0.005])
    np.testing.assert_array_equal(decide([0.1, 0.1, 0.1], per_row), [0, 1, 1])


def test_bayes_decisions_minimise_expected_cost():
    rng = np.random.default_rng(0)
    p = rng.random(1000)
    c = CostMatrix(tp=1, fp=4, fn=20, tn=0)
    bayes = expected_cost(p, c).sum()
    for other in (np.zeros(1000), np.ones(1000), (p > 0.5).astype(float)):
        assert bayes <= expected_cost(p, c, other).sum()


def test_realised_and_best_threshold():
    y = np.array([1, 0, 1, 0, 0])
    p = np.array([0.9, 0.8, 0.7, 0.2, 0.1])
    c = CostMatrix(tp=0, fp=1, fn=10, tn=0)
    r = realised_cost(y, [1, 1, 1, 0, 0], c)
    assert r["total_cost"] == 1 and r["tp"] == 2 and r["fp"] == 1
    thr, cost = best_threshold(y, p, c)
    assert thr == pytest.approx(0.7) and cost == 1.0


def test_bad_costs_are_refused():
    with pytest.raises(ValidationError, match="fn > tp"):
        bayes_threshold(CostMatrix(tp=5, fp=1, fn=1, tn=0))
    with pytest.raises(ValidationError, match="per-row"):
        CostMatrix(fn=np.ones(3)).arrays(4)
