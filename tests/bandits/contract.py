"""The contract every bandit policy passes: subclass with ``_get_model()`` (the implicit idiom)."""

from __future__ import annotations

import numpy as np
import pytest

from shopml.bandits.base import Policy
from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.estimator import load_model

K, D = 5, 3


def toy(n: int = 400, seed: int = 0):
    """Contexts where arm 0 is best for x0 > 0 and arm 1 otherwise; other arms are poor."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, D))
    p = np.full((n, K), 0.05)
    p[:, 0] = np.where(X[:, 0] > 0, 0.6, 0.1)
    p[:, 1] = np.where(X[:, 0] > 0, 0.1, 0.6)
    return X, p, rng


class PolicyContract:
    """Mixin of tests; a test class sets ``_get_model`` returning a fresh, unfitted policy."""

    #: whether the policy should beat the best single arm on the toy contexts
    contextual = False

    def _get_model(self) -> Policy:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    def _trained(self, rounds: int = 6):
        X, p, rng = toy()
        pol = self._get_model().fit(K, D)
        for _ in range(rounds):
            Xb, pb, _ = toy(200, int(rng.integers(1 << 30)))
            ch = pol.choose(Xb)
            r = (rng.random(len(Xb)) < pb[np.arange(len(Xb)), ch.actions[:, 0]]).astype(float)
            pol.update(Xb, ch.actions[:, 0], r, ch.propensity[:, 0])
        return pol

    def test_unfitted_raises(self):
        with pytest.raises(NotFittedError):
            self._get_model().choose(np.zeros((2, D)))

    def test_choice_shapes_and_propensities(self):
        pol = self._trained(2)
        X, _, _ = toy(50, 3)
        ch = pol.choose(X, n=3)
        assert ch.actions.shape == ch.propensity.shape == (50, 3)
        assert np.all((ch.propensity > 0) & (ch.propensity <= 1))
        assert all(len(set(row)) == 3 for row in ch.actions.tolist())  # a slate has distinct arms
        probs = pol.probabilities(X, n=3)
        assert probs.shape == (50, K, 3)
        np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-9)  # each position: one arm

    def test_propensity_matches_choice_frequency(self):
        pol = self._trained(3)
        x = np.repeat(toy(1, 9)[0], 4000, axis=0)
        probs = pol.probabilities(x[:1])[0, :, 0]
        ch = pol.choose(x)
        freq = np.bincount(ch.actions[:, 0], minlength=K) / len(x)
        np.testing.assert_allclose(freq, probs, atol=0.06)

    def test_learns(self):
        pol = self._trained(8)
        X, p, _ = toy(2000, 5)
        chosen = p[np.arange(len(X)), pol.choose(X).actions[:, 0]].mean()
        best_single = p.mean(axis=0).max()
        assert chosen > (best_single + 0.05 if self.contextual else 0.3)

    def test_save_load_round_trip(self, tmp_path):
        pol = self._trained(2)
        pol.save(tmp_path / "m")
        back = load_model(tmp_path / "m")
        assert type(back) is type(pol) and back.get_params() == pol.get_params()
        X, _, _ = toy(30, 4)
        a, b = pol.choose(X, n=2), back.choose(X, n=2)  # same state and same random stream
        np.testing.assert_array_equal(a.actions, b.actions)
        np.testing.assert_allclose(a.propensity, b.propensity)

    def test_params_round_trip(self):
        pol = self._get_model()
        assert type(pol)(**pol.get_params()).get_params() == pol.get_params()
        with pytest.raises(ValidationError):
            pol.set_params(no_such_parameter=1)

    def test_bad_input_raises(self):
        pol = self._get_model().fit(K, D)
        X = np.zeros((2, D))
        with pytest.raises(ValidationError):
            pol.update(X, [0, K], [1, 0])  # arm out of range
        with pytest.raises(ValidationError):
            pol.update(X, [0, 1], [1])  # one reward missing
        with pytest.raises(ValidationError):
            pol.choose(X, n=K + 1)
        with pytest.raises(ValidationError):
            pol.choose(np.full((2, D), np.nan))
        with pytest.raises(ValidationError):
            pol.update(X, [0, 1], [1, 0], propensity=[0.0, 0.5])
