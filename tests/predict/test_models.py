"""Logistic regression, LightGBM and the MLP through the shared predictor contract."""

import numpy as np
import pytest

from shopml.predict.gbm import LightGBMClassifier, LightGBMRegressor
from shopml.predict.linear import LogisticRegression
from shopml.predict.mlp import MLPClassifier
from tests.predict.contract import PredictorContract, toy_frame


class TestLogisticRegression(PredictorContract):
    def _get_model(self):
        return LogisticRegression(C=1.0)

    def test_recovers_the_coefficient(self):
        X, y = toy_frame(4000, seed=3)
        m = LogisticRegression(C=100.0).fit(X, y)
        # x1's true log-odds slope is 2; the encoder divides by x1's std (~1)
        slope = m.coef_[0] / m.encoder_.scale_[0]
        assert slope == pytest.approx(2.0, rel=0.15)


class TestLightGBM(PredictorContract):
    def _get_model(self):
        return LightGBMClassifier(n_estimators=60, num_leaves=7, seed=0)

    def test_early_stopping_keeps_the_best_iteration(self):
        X, y = toy_frame(600)
        m = LightGBMClassifier(n_estimators=500, learning_rate=0.3, early_stopping_rounds=5).fit(X, y)
        assert m.best_iteration_ < 500
        assert m.feature_importance().index[0] == "x1"


class TestMLP(PredictorContract):
    explain_exact = False

    def _get_model(self):
        return MLPClassifier(hidden=(16,), epochs=25, batch_size=64, lr=5e-3, patience=5, seed=0)

    def test_early_stopping_records_history(self, fitted):
        model, _, _ = fitted
        assert model.history_ and "val_loss" in model.history_[0]
        assert 0 <= model.best_epoch_ < len(model.history_)


def test_lightgbm_regressor_predicts_values(tmp_path):
    X, _ = toy_frame(500)
    y = 3.0 * X["x1"].to_numpy() + np.random.default_rng(0).normal(scale=0.1, size=500)
    m = LightGBMRegressor(n_estimators=80).fit(X, y)
    pred = m.predict(X)
    assert np.corrcoef(pred, y)[0, 1] > 0.95
    with pytest.raises(Exception, match="regressor"):
        m.predict_proba(X)
    np.testing.assert_allclose(m.explain(X).sum(axis=1), pred, atol=1e-6)
    m.save(tmp_path / "r")
    np.testing.assert_allclose(LightGBMRegressor.load(tmp_path / "r").predict(X), pred)
