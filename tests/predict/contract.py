"""The contract every predictor passes: subclass with ``_get_model()`` (the implicit idiom).

``toy_frame`` has one strong numeric signal (``x1``), a categorical signal (``colour``), a
numeric column with missing values (``x2``) and pure noise (``noise``). A model whose
``explain`` is not exactly additive (torch: gradient×input) sets ``explain_exact = False``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from shopml.core.errors import NotFittedError, ValidationError
from shopml.predict.base import Predictor, load_predictor


def toy_frame(n: int = 800, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.normal(size=n)
    x2[rng.random(n) < 0.1] = np.nan
    colour = rng.choice(["red", "green", "blue"], size=n)
    noise = rng.normal(size=n)
    logit = 2.0 * x1 + np.where(colour == "red", 1.5, -0.5) + 0.5 * np.nan_to_num(x2)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    X = pd.DataFrame({"x1": x1, "x2": x2, "colour": colour, "noise": noise})
    return X, y


class PredictorContract:
    """Mixin of tests; a test class sets ``_get_model`` returning a fresh, unfitted model."""

    explain_exact = True

    def _get_model(self) -> Predictor:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls):
        X, y = toy_frame()
        return cls()._get_model().fit(X.iloc[:600], y[:600]), X, y

    def test_unfitted_raises(self):
        X, _ = toy_frame(20)
        with pytest.raises(NotFittedError):
            self._get_model().predict_proba(X)

    def test_params_unchanged_by_fit(self, fitted):
        model, _, _ = fitted
        assert model.get_params() == self._get_model().get_params()

    def test_probabilities_learn_the_signal(self, fitted):
        model, X, y = fitted
        p = model.predict_proba(X.iloc[600:])
        assert p.shape == (200,) and p.dtype == np.float64
        assert np.all((p >= 0) & (p <= 1))
        assert roc_auc_score(y[600:], p) > 0.8
        assert set(np.unique(model.predict(X.iloc[600:]))) <= {0, 1}

    def test_unseen_category_and_extra_columns(self, fitted):
        model, X, _ = fitted
        Z = X.iloc[:5].copy()
        Z["colour"] = ["purple", None, "red", "red", "blue"]
        Z["unused"] = 1.0
        p = model.predict_proba(Z)
        assert np.isfinite(p).all()

    def test_bad_inputs_are_named(self):
        X, y = toy_frame(50)
        m = self._get_model()
        with pytest.raises(ValidationError, match="DataFrame"):
            m.fit(X.to_numpy(), y)
        with pytest.raises(ValidationError, match="binary"):
            m.fit(X, y * 2)
        yn = y.astype(float)
        yn[3] = np.nan
        with pytest.raises(ValidationError, match="NaN"):
            m.fit(X, yn)
        with pytest.raises(ValidationError, match="rows"):
            m.fit(X, y[:-1])
        Xd = X.copy()
        Xd["when"] = pd.Timestamp("2024-01-01")
        with pytest.raises(ValidationError, match="when"):
            m.fit(Xd, y)

    def test_missing_column_at_predict_is_named(self, fitted):
        model, X, _ = fitted
        with pytest.raises(ValidationError, match="x1"):
            model.predict_proba(X.drop(columns=["x1"]))

    def test_explain(self, fitted):
        model, X, _ = fitted
        E = model.explain(X.iloc[600:700])
        assert list(E.columns) == ["x1", "x2", "colour", "noise", "bias"]
        assert E.index.equals(X.index[600:700])
        assert E["x1"].abs().mean() > 2 * E["noise"].abs().mean()
        p = model.predict_proba(X.iloc[600:700])
        logit = np.log(p / (1 - p))
        if self.explain_exact:
            np.testing.assert_allclose(E.sum(axis=1), logit, atol=1e-5)
        else:
            assert np.corrcoef(E.sum(axis=1), logit)[0, 1] > 0.9

    def test_save_load_roundtrip(self, fitted, tmp_path):
        model, X, _ = fitted
        model.save(tmp_path / "m")
        files = {f.name for f in (tmp_path / "m").iterdir()}
        assert "model.json" in files and not any(f.endswith((".pkl", ".pickle", ".pt")) for f in files)
        again = load_predictor(tmp_path / "m")
        assert type(again) is type(model)
        np.testing.assert_allclose(again.predict_proba(X.iloc[600:]), model.predict_proba(X.iloc[600:]), rtol=1e-6, atol=1e-7)

    def test_reproducible(self):
        X, y = toy_frame(300, seed=1)
        a = self._get_model().fit(X, y).predict_proba(X)
        b = self._get_model().fit(X, y).predict_proba(X)
        np.testing.assert_allclose(a, b, rtol=1e-6, atol=1e-7)
