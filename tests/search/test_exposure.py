"""Exposure shares: softmax with temperature, exploration floor and bonus for new items."""

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.search.exposure import allocate_impressions, exposure_shares


def test_shares_sum_to_one_and_follow_scores():
    s = np.array([[3.0, 1.0, 2.0, 0.0], [0.5, 0.5, -1.0, 2.0]])
    sh = exposure_shares(s, temperature=0.7)
    np.testing.assert_allclose(sh.sum(axis=1), 1.0)
    assert (np.argsort(-sh, axis=1) == np.argsort(-s, axis=1, kind="stable")).all()
    np.testing.assert_allclose(sh[0], np.exp(s[0] / 0.7) / np.exp(s[0] / 0.7).sum())


def test_temperature_limits():
    s = np.array([1.0, 3.0, 2.0, 3.0])
    np.testing.assert_allclose(exposure_shares(s, 1e-9), [0, 0.5, 0, 0.5])
    np.testing.assert_allclose(exposure_shares(s, np.inf), [0.25] * 4)
    np.testing.assert_allclose(exposure_shares(s, 1e9), [0.25] * 4, atol=1e-8)
    hot, cold = exposure_shares(s, 5.0), exposure_shares(s, 0.5)
    assert hot.max() < cold.max()


def test_new_items_get_the_floor():
    s = np.array([[5.0, 4.0, -3.0, -2.0, 1.0]])
    new = np.array([[False, False, True, True, False]])
    sh = exposure_shares(s, 1.0, is_new=new, new_floor=0.1)
    np.testing.assert_allclose(sh.sum(), 1.0)
    assert (sh[new] >= 0.1 - 1e-12).all()
    # the established items keep their order
    assert sh[0, 0] > sh[0, 1] > sh[0, 4]
    # a new item already above the floor keeps at least the floor too
    sh2 = exposure_shares(np.array([5.0, 4.9, 0.0]), 1.0, is_new=[True, False, True], new_floor=0.2)
    assert sh2[0] > 0.2 and sh2[2] >= 0.2 - 1e-12 and np.isclose(sh2.sum(), 1.0)
    bonus = exposure_shares(s, 1.0, is_new=new, new_bonus=2.0)
    assert (bonus[new] > exposure_shares(s, 1.0)[new]).all()


def test_ineligible_items_get_nothing():
    sh = exposure_shares(np.array([1.0, np.nan, -np.inf, 0.0]), 1.0, is_new=[0, 1, 1, 0], new_floor=0.2)
    assert sh[1] == 0 and sh[2] == 0 and np.isclose(sh.sum(), 1.0)


def test_bad_arguments():
    with pytest.raises(ValidationError, match="temperature"):
        exposure_shares([1.0, 2.0], 0.0)
    with pytest.raises(ValidationError, match="exceeds"):
        exposure_shares([1.0, 2.0, 3.0], 1.0, is_new=[True, True, True], new_floor=0.5)
    with pytest.raises(ValidationError, match="eligible"):
        exposure_shares([np.nan, -np.inf], 1.0)
    with pytest.raises(ValidationError, match="is_new"):
        exposure_shares([1.0, 2.0], 1.0, is_new=[True, False, True])


def test_allocate_impressions():
    sh = exposure_shares(np.array([[2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]), 1.0)
    n = allocate_impressions(sh, 1000)
    assert (n.sum(axis=1) == 1000).all()
    assert np.abs(n - sh * 1000).max() < 1
