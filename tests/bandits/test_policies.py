"""Every policy passes the contract; specific checks for the update rules and slates."""

import numpy as np
import pytest

from shopml.bandits.base import sherman_morrison_waves
from shopml.bandits.context_free import UCB1, BernoulliTS, EpsilonGreedy
from shopml.bandits.linear import LinearTS, LinUCB
from shopml.bandits.neural import NeuralBootstrap
from shopml.core.errors import ValidationError
from tests.bandits.contract import D, K, PolicyContract


class TestEpsilonGreedy(PolicyContract):
    def _get_model(self):
        return EpsilonGreedy(epsilon=0.1, seed=1)


class TestUCB1(PolicyContract):
    def _get_model(self):
        return UCB1(epsilon=0.05, seed=1)


class TestBernoulliTS(PolicyContract):
    def _get_model(self):
        return BernoulliTS(n_samples=200, seed=1)


class TestLinUCB(PolicyContract):
    contextual = True

    def _get_model(self):
        return LinUCB(alpha=0.5, epsilon=0.05, seed=1)


class TestLinearTS(PolicyContract):
    contextual = True

    def _get_model(self):
        return LinearTS(v=0.3, n_samples=200, seed=1)


class TestNeuralBootstrap(PolicyContract):
    contextual = True

    def _get_model(self):
        return NeuralBootstrap(hidden=16, n_heads=8, train_steps=30, epsilon=0.05, seed=1)


def test_sherman_morrison_equals_the_direct_inverse():
    rng = np.random.default_rng(0)
    X, a = rng.normal(size=(60, 3)), rng.integers(0, 4, 60)
    y, w = rng.random(60), rng.uniform(0.2, 1.0, 60)
    A_inv, b = np.broadcast_to(np.eye(3), (4, 3, 3)).copy(), np.zeros((4, 3))
    sherman_morrison_waves(A_inv, b, X, a, y, w)
    for k in range(4):
        m = a == k
        A = np.eye(3) + (X[m] * w[m, None]).T @ X[m]
        np.testing.assert_allclose(A_inv[k], np.linalg.inv(A), atol=1e-10)
        np.testing.assert_allclose(b[k], X[m].T @ (w[m] * y[m]))


def test_epsilon_greedy_propensities_are_exact():
    pol = EpsilonGreedy(epsilon=0.2, seed=0).fit(4)
    pol.update(8, [0, 1, 2, 3, 2, 2, 1, 0], [0, 0, 1, 0, 1, 1, 0, 0])
    ch = pol.choose(1000)
    greedy = ch.actions[:, 0] == 2
    assert np.allclose(ch.propensity[greedy, 0], 0.8 + 0.05)
    assert np.allclose(ch.propensity[~greedy, 0], 0.05)


def test_ucb_without_exploration_is_deterministic_with_propensity_one():
    pol = UCB1().fit(3)
    pol.update(6, [0, 1, 2, 0, 1, 2], [1, 0, 0, 1, 0, 0])
    ch = pol.choose(20)
    assert (ch.actions[:, 0] == ch.actions[0, 0]).all() and np.allclose(ch.propensity, 1.0)


def test_position_based_model_recovers_attraction_from_lower_slots():
    # clicks at position 2 (examined half the time) of an arm with attraction 0.4
    rng = np.random.default_rng(0)
    pol = LinUCB(examination=(1.0, 0.5), fit_intercept=True).fit(2, 1)
    n = 20_000
    X = np.zeros((n, 1))
    r = (rng.random(n) < 0.5 * 0.4).astype(float)
    pol.update(X, np.zeros(n, int), r, position=np.full(n, 2))
    assert pol.coef()[0, -1] == pytest.approx(0.4, abs=0.02)
    ts = BernoulliTS(examination=(1.0, 0.5)).fit(2)
    ts.update(n, np.zeros(n, int), r, position=np.full(n, 2))
    assert ts.means()[0] == pytest.approx(0.4, abs=0.02)
    with pytest.raises(ValidationError, match="position"):
        ts.update(1, [0], [1], position=[3])


def test_contextual_policy_needs_features():
    with pytest.raises(ValidationError, match="contextual"):
        LinUCB().fit(3, 0)
    pol = LinUCB().fit(K, D)
    with pytest.raises(ValidationError, match="features"):
        pol.choose(np.zeros((1, D + 1)))
