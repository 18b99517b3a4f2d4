import numpy as np
import pytest
import scipy.sparse as sp

from shopml.search.metrics import (
    gains_at,
    ndcg_grouped,
    ndcg_lists,
    rank_within,
    recall_lists,
    rmse,
)


def test_ndcg_grouped_hand_computation():
    # query 0: ranked gains [0, 2, 1]; ideal [2, 1, 0]. query 1: all gains 0 -> NaN
    group = np.array([0, 0, 0, 1, 1])
    score = np.array([0.9, 0.5, 0.1, 0.3, 0.2])
    gain = np.array([0.0, 2.0, 1.0, 0.0, 0.0])
    dcg = 2 / np.log2(3) + 1 / np.log2(4)
    idcg = 2 / np.log2(2) + 1 / np.log2(3)
    got = ndcg_grouped(group, score, gain, k=10)
    assert got[0] == pytest.approx(dcg / idcg)
    assert np.isnan(got[1])
    # cut-off 1: only the first item counts
    assert ndcg_grouped(group, score, gain, k=1)[0] == pytest.approx(0.0)


def test_ties_are_broken_at_random_not_by_input_order():
    group = np.zeros(1000, int)
    score = np.zeros(1000)
    rank = rank_within(group, score, seed=1)
    assert sorted(rank) == list(range(1000))
    assert abs(np.corrcoef(rank, np.arange(1000))[0, 1]) < 0.1


def test_list_metrics():
    gains = sp.csr_matrix(np.array([[0, 2.0, 0, 1.0, 0.0], [1.0, 0, 0, 0, 0]]))
    top = np.array([[3, 1, 0], [2, 4, -1]])
    np.testing.assert_allclose(gains_at(top, gains), [[1, 2, 0], [0, 0, 0]])
    nd = ndcg_lists(top, gains, k=3)
    ideal = 2 + 1 / np.log2(3)
    assert nd[0] == pytest.approx((1 + 2 / np.log2(3)) / ideal)
    assert nd[1] == 0.0
    relevant = sp.csr_matrix(np.array([[0, 1, 0, 1, 1], [0, 0, 0, 0, 0]]))
    rec = recall_lists(top, relevant, k=1)
    assert rec[0] == pytest.approx(1 / 3) and np.isnan(rec[1])
    assert recall_lists(top, relevant, k=3)[0] == pytest.approx(2 / 3)


def test_rmse():
    assert rmse(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == pytest.approx(1.0)
