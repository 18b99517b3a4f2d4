"""The contract every text model passes: subclass with ``_get_model()`` (the implicit idiom)."""

from __future__ import annotations

import numpy as np
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.text.base import SentimentModel

from .conftest import corpus


class SentimentContract:
    """Mixin of tests; a test class sets ``_get_model`` returning a fresh, unfitted model."""

    min_accuracy = 0.8

    def _get_model(self) -> SentimentModel:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls):
        texts, stars, labels = corpus()
        model = cls()._get_model().fit(texts[:180], labels[:180])
        return model, texts, stars, labels

    def test_unfitted_raises(self):
        with pytest.raises(NotFittedError):
            self._get_model().predict(["nice"])

    def test_params_round_trip(self, fitted):
        model, *_ = fitted
        fresh = self._get_model()
        assert model.get_params() == fresh.get_params()
        clone = type(fresh)(**fresh.get_params())
        assert clone.get_params() == fresh.get_params()

    def test_learns_polarity(self, fitted):
        model, texts, _, labels = fitted
        pol = model.polarity(texts[180:])
        assert np.mean(pol == labels[180:]) >= self.min_accuracy
        proba = model.predict_proba(texts[180:])
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
        s = model.score(texts[180:])
        assert s.min() >= -1 and s.max() <= 1
        # positive texts score above negative ones on average
        assert s[labels[180:] == "positive"].mean() > s[labels[180:] == "negative"].mean() + 0.3

    def test_save_load_identical(self, fitted, tmp_path):
        model, texts, *_ = fitted
        model.save(tmp_path / "m")
        assert not list((tmp_path / "m").glob("*.pkl"))
        back = SentimentModel.load(tmp_path / "m")
        assert type(back) is type(model)
        np.testing.assert_allclose(
            back.predict_proba(texts[180:]), model.predict_proba(texts[180:]), rtol=1e-4, atol=1e-5
        )
        assert (back.polarity(texts[180:]) == model.polarity(texts[180:])).all()

    def test_bad_inputs_are_named(self, fitted):
        model, texts, _, labels = fitted
        with pytest.raises(ValidationError, match="one string"):
            model.predict("just one text")
        with pytest.raises(ValidationError, match=r"texts\[1\]"):
            model.predict(["ok", None])
        with pytest.raises(ValidationError, match="one value per text"):
            self._get_model().fit(texts[:10], labels[:9])
        with pytest.raises(ValidationError, match="one class"):
            self._get_model().fit(texts[:10], ["positive"] * 10)
        assert model.predict([]).shape == (0,)
