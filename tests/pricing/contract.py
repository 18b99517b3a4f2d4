"""The contract every elasticity model passes: subclass with ``_get_model()`` (implicit's idiom)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.pricing.base import ElasticityModel
from tests.pricing.toy import toy_panel


class ElasticityContract:
    """Mixin of tests; a test class sets ``_get_model`` returning a fresh, unfitted model."""

    #: the largest mean absolute error allowed on the confounded toy panel
    max_mae = 0.25

    def _get_model(self) -> ElasticityModel:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls):
        panel, truth = toy_panel()
        return cls()._get_model().fit(panel), panel, truth

    def test_unfitted_raises(self):
        with pytest.raises(NotFittedError):
            self._get_model().elasticities()
        with pytest.raises(NotFittedError):
            self._get_model().predict_units(["p000"], [1.0])

    def test_params_round_trip_and_unchanged_by_fit(self, fitted):
        model, _, _ = fitted
        fresh = self._get_model()
        assert model.get_params() == fresh.get_params()
        clone = type(fresh)(**fresh.get_params())
        assert clone.get_params() == fresh.get_params()
        with pytest.raises(ValidationError):
            fresh.set_params(no_such_parameter=1)

    def test_bad_input_raises_validation_error_naming_it(self):
        panel, _ = toy_panel(n_items=3, days=20)
        with pytest.raises(ValidationError, match="price"):
            self._get_model().fit(panel.drop(columns="price"))
        bad = panel.copy()
        bad.loc[0, "y"] = -1
        with pytest.raises(ValidationError, match="y"):
            self._get_model().fit(bad)
        with pytest.raises(ValidationError, match="pooling"):
            self._get_model().set_params(pooling="nope").fit(panel)

    def test_estimates_are_close_to_the_truth_with_intervals(self, fitted):
        model, _, truth = fitted
        e = model.elasticities().set_index("unique_id")
        err = (e["elasticity"] - truth[e.index]).abs()
        assert err.mean() < self.max_mae, e.assign(truth=truth)
        assert (e["lower"] <= e["elasticity"]).all() and (e["elasticity"] <= e["upper"]).all()
        assert (e["se"] > 0).all()

    def test_demand_curve_falls_with_price_and_matches_recent_sales(self, fitted):
        model, panel, _ = fitted
        ids = model.elasticities()["unique_id"].to_numpy()
        ref = model.elasticities()["ref_price"].to_numpy()
        ladder = ref[:, None] * np.array([0.9, 1.0, 1.1])
        q = model.predict_units(ids, ladder)
        assert q.shape == (ids.size, 3)
        assert np.allclose(q[:, 1], model.elasticities()["base_units"])
        assert (q[:, 0] > q[:, 2]).all()
        with pytest.raises(ValidationError, match="unknown"):
            model.predict_units(["nope"], [1.0])

    def test_save_load_round_trip_gives_identical_outputs(self, fitted, tmp_path):
        model, _, _ = fitted
        model.save(tmp_path / "m")
        again = ElasticityModel.load(tmp_path / "m")
        assert type(again) is type(model)
        pd.testing.assert_frame_equal(again.elasticities(), model.elasticities())
        ids = model.elasticities()["unique_id"].to_numpy()[:5]
        assert np.array_equal(again.predict_units(ids, np.full(5, 10.0)),
                              model.predict_units(ids, np.full(5, 10.0)))
