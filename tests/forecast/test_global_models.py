"""The global LightGBM and DeepAR forecasters pass the contract."""

from __future__ import annotations

import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.forecast.deepar import DeepARForecaster
from shopml.forecast.lgbm import LGBMForecaster
from tests.forecast.contract import ForecasterContract, toy_panel


class TestLGBM(ForecasterContract):
    def _get_model(self):
        return LGBMForecaster(max_horizon=4, n_estimators=60, num_leaves=8, min_child_samples=5)


class TestDeepAR(ForecasterContract):
    def _get_model(self):
        return DeepARForecaster(
            max_horizon=4,
            context_length=8,
            hidden_size=16,
            num_layers=1,
            epochs=20,
            windows_per_epoch=256,
            batch_size=64,
            num_samples=100,
        )


def test_lgbm_uses_exogenous_columns_and_needs_their_future():
    df = toy_panel()
    df["price"] = 10.0 + (df["ds"].dt.dayofyear % 3)
    train = df[df["ds"] <= df["ds"].max() - pd.Timedelta(weeks=4)]
    m = LGBMForecaster(max_horizon=4, n_estimators=30, num_leaves=8, min_child_samples=5).fit(
        train, "W"
    )
    assert "x_price" in m.feature_names_
    with pytest.raises(ValidationError, match="X_df"):
        m.predict(4)
    out = m.predict(4, X_df=df[df["ds"] > train["ds"].max()][["unique_id", "ds", "price"]])
    assert len(out) == 24
    with pytest.raises(ValidationError, match="max_horizon"):
        m.predict(5, X_df=df[["unique_id", "ds", "price"]])


class TestSeasonalNaive(ForecasterContract):
    """A statsforecast model behind the contract (history kept, refitted at predict)."""

    learns = False

    def _get_model(self):
        pytest.importorskip("statsforecast")
        from shopml.forecast.stats import SeasonalNaive

        return SeasonalNaive(season_length=1)


def test_forecaster_cross_validation_on_the_fitted_frame():
    from shopml.core.errors import NotFittedError
    from shopml.forecast import Forecaster

    df = toy_panel()
    fc = Forecaster([LGBMForecaster(max_horizon=2, n_estimators=20, num_leaves=8, min_child_samples=5)])
    with pytest.raises(NotFittedError):
        fc.cross_validation(h=2)
    fc.fit(df)
    a = fc.cross_validation(h=2, n_windows=1)
    b = fc.cross_validation(h=2, df=df, n_windows=1)
    pd.testing.assert_frame_equal(a, b)
    assert a["cutoff"].nunique() == 1 and len(a) == 12
