"""The contract every forecaster passes: subclass with ``_get_model()`` (the implicit idiom).

``toy_panel``: a few weekly series with levels from 2 to 60 units, a trend on some, Poisson
noise and one intermittent series; the last 4 weeks are held out to check the model learns
something (beats the series' overall mean on MAE).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.forecast.base import QUANTILES, ForecastModel, qcol


def toy_panel(n_series: int = 6, weeks: int = 40, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    ds = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
    t = np.arange(weeks)
    parts = []
    for i in range(n_series):
        level = 2 + 60 * i / max(n_series - 1, 1)
        rate = level * (1 + (0.02 * t if i % 2 else 0 * t))
        y = rng.poisson(rate).astype(float)
        if i == 0:
            y = np.where(rng.random(weeks) < 0.6, 0.0, y)  # intermittent
        parts.append(pd.DataFrame({"unique_id": f"s{i}", "ds": ds, "y": y}))
    return pd.concat(parts, ignore_index=True)


class ForecasterContract:
    """Mixin of tests; a test class sets ``_get_model`` returning a fresh, unfitted model."""

    h = 4
    learns = True

    def _get_model(self) -> ForecastModel:  # pragma: no cover - overridden
        raise AssertionError("override _get_model")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls):
        df = toy_panel()
        train = df[df["ds"] < df["ds"].max() - pd.Timedelta(weeks=cls.h - 1)]
        return cls()._get_model().fit(train, "W"), df, train

    def test_unfitted_raises(self):
        with pytest.raises(NotFittedError):
            self._get_model().predict(self.h)

    def test_params_unchanged_by_fit(self, fitted):
        model, _, _ = fitted
        assert repr(model.get_params()) == repr(self._get_model().get_params())

    def test_output_contract(self, fitted):
        model, df, train = fitted
        out = model.predict(self.h)
        assert list(out.columns) == ["unique_id", "ds", "point", *[qcol(t) for t in QUANTILES]]
        assert len(out) == 6 * self.h
        assert out["ds"].min() == train["ds"].max() + pd.Timedelta(weeks=1)
        Q = out[[qcol(t) for t in QUANTILES]].to_numpy()
        assert (Q >= 0).all() and (np.diff(Q, axis=1) >= 0).all()
        assert (out["point"] >= 0).all()

    def test_learns_the_levels(self, fitted):
        model, df, train = fitted
        if not self.learns:
            pytest.skip("no accuracy claim for this model")
        out = model.predict(self.h).merge(df, on=["unique_id", "ds"])
        mae = (out["y"] - out["point"]).abs().mean()
        flat = out["y"].mean()
        assert mae < (out["y"] - flat).abs().mean() * 0.5

    def test_save_load_round_trip(self, fitted, tmp_path):
        model, _, _ = fitted
        model.save(tmp_path / "m")
        again = type(model).load(tmp_path / "m")
        a, b = model.predict(self.h), again.predict(self.h)
        pd.testing.assert_frame_equal(a, b)
        assert repr(again.get_params()).replace("[", "(").replace("]", ")") == repr(
            model.get_params()
        ).replace("[", "(").replace("]", ")")

    def test_bad_input_raises(self, fitted):
        model, df, _ = fitted
        with pytest.raises(ValidationError):
            self._get_model().fit(df.drop(columns=["y"]), "W")
        bad = df.copy()
        bad.loc[0, "y"] = -1
        with pytest.raises(ValidationError):
            self._get_model().fit(bad, "W")
        with pytest.raises(ValidationError):
            model.predict(0)
