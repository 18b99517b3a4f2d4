from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.pricing import NaiveLogLog
from shopml.pricing.interfaces import DemandForecaster, baseline_from_forecast
from shopml.pricing.optimise import PriceLadder
from shopml.pricing.plan import price_plan
from tests.pricing.toy import toy_panel


class FakeForecaster:
    """statsforecast-shaped: one point column per model alias, interval columns beside it."""

    def __init__(self, ids, per_period):
        self.ids, self.per_period = ids, per_period

    def forecast(self, h, level=None):
        ds = pd.date_range("2025-01-01", periods=h, freq="D")
        n = len(self.ids)
        return pd.DataFrame({
            "unique_id": np.repeat(self.ids, h), "ds": np.tile(ds, n),
            "AutoETS": np.repeat(self.per_period, h), "AutoETS-lo-80": 0.0,
        })


@pytest.fixture(scope="module")
def model():
    panel, _ = toy_panel(n_items=6, days=120)
    return NaiveLogLog().fit(panel)


def test_plan_prices_every_product_within_its_limits(model):
    plan = price_plan(model, PriceLadder(0.8, 1.2, 5), horizon=7, max_change=0.1, min_margin=0.2)
    assert len(plan) == 6
    assert (plan["change"].abs() <= 0.1 + 1e-9).all()
    ok = plan["binding"] != "infeasible"
    assert ((plan["price"] - plan["unit_cost"]) / plan["price"])[ok].min() >= 0.2 - 1e-9
    assert plan["profit"].sum() >= plan["current_profit"].sum() - 1e-9


def test_a_forecaster_sets_the_demand_level_through_the_interface(model):
    ids = model.elasticities()["unique_id"].to_numpy()
    fc = FakeForecaster(ids, np.full(ids.size, 3.0))
    assert isinstance(fc, DemandForecaster)
    base = baseline_from_forecast(fc, 7)
    assert np.allclose(base[ids], 21.0)
    plan = price_plan(model, horizon=7, forecaster=fc)
    # at (nearly) today's price the expected units are the forecast's 21 per product
    assert np.allclose(plan["current_units"], 21.0, rtol=0.01)  # ladder prices are rounded


def test_a_forecast_without_a_point_column_is_refused(model):
    class Bad:
        def forecast(self, h, level=None):
            return pd.DataFrame({"unique_id": ["p000"], "ds": [pd.Timestamp("2025-01-01")]})

    with pytest.raises(ValidationError, match="point forecast"):
        price_plan(model, forecaster=Bad())
