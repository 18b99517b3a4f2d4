"""The statsforecast baselines behind the contract, ``Forecaster`` and its cross-validation,
the hierarchy, and the serving table (train -> register -> load -> answer)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import NotFittedError, ValidationError
from shopml.forecast import Forecaster, model_frame
from shopml.forecast.base import QUANTILES, qcol
from shopml.forecast.hierarchy import aggregate_actuals, bottom_up
from shopml.forecast.lgbm import LGBMForecaster
from tests.forecast.contract import toy_panel

pytest.importorskip("statsforecast")


@pytest.fixture(scope="module")
def cv():
    from shopml.forecast.stats import AutoETS, CrostonOptimized, SeasonalNaive

    df = toy_panel()
    fc = Forecaster(
        [
            SeasonalNaive(),
            AutoETS(),
            CrostonOptimized(),
            LGBMForecaster(max_horizon=2, n_estimators=30, num_leaves=8, min_child_samples=5),
        ],
        freq="W",
    )
    return fc, df, fc.cross_validation(df=df, h=2, n_windows=3, step_size=1)


def test_cross_validation_windows(cv):
    fc, df, out = cv
    cutoffs = sorted(out["cutoff"].unique())
    end = df["ds"].max()
    assert [pd.Timestamp(c) for c in cutoffs] == [end - pd.Timedelta(weeks=k) for k in (4, 3, 2)]
    assert len(out) == 3 * 2 * 6
    assert (out["ds"] > out["cutoff"]).all()
    truth = df.set_index(["unique_id", "ds"])["y"]
    assert np.array_equal(
        out["y"].to_numpy(),
        truth.loc[list(zip(out["unique_id"], out["ds"], strict=True))].to_numpy(),
    )
    for a in fc.aliases:
        assert {a, f"{a}-lo-80", f"{a}-hi-95", f"{a}-q0.5"} <= set(out.columns)
    # seasonal naive (season 1) repeats the value at the cutoff
    first = out[out["cutoff"] == cutoffs[0]]
    at_cut = truth.loc[
        list(zip(first["unique_id"], [pd.Timestamp(cutoffs[0])] * len(first), strict=True))
    ]
    assert np.allclose(first["SeasonalNaive"].to_numpy(), at_cut.to_numpy())


def test_forecast_levels_and_params(cv):
    fc, df, _ = cv
    with pytest.raises(NotFittedError):
        fc.forecast(2)
    fc.fit(df)
    wide = fc.forecast(2, level=[80, 95])
    ets = model_frame(wide, "AutoETS")
    assert (ets["lo-80"] <= ets["point"]).all() and (ets["point"] <= ets["hi-80"]).all()
    assert (ets["lo-95"] <= ets["lo-80"]).all()
    assert "method" in next(iter(fc.models[1].fitted_params().values()))
    with pytest.raises(ValidationError):
        fc.forecast(2, level=[70])


def test_hierarchy_bottom_up_adds_up(cv):
    fc, df, out = cv
    cats = {"s0": "x", "s1": "x", "s2": "y", "s3": "y", "s4": "y", "s5": "y"}
    items = model_frame(out, "LightGBM")
    agg = bottom_up(items.drop(columns=["y"]), cats)
    tot = agg[agg["level"] == "total"].set_index(["cutoff", "ds"])["point"]
    by_cat = agg[agg["level"] == "category"].groupby(["cutoff", "ds"])["point"].sum()
    assert np.allclose(tot.sort_index(), by_cat.sort_index())
    assert np.allclose(
        tot.sort_index(), items.groupby(["cutoff", "ds"])["point"].sum().sort_index()
    )
    Q = agg[[qcol(t) for t in QUANTILES]].to_numpy()
    assert (np.diff(Q, axis=1) >= 0).all()
    actual = aggregate_actuals(df, cats)
    assert set(actual["unique_id"]) == {"category/x", "category/y", "total"}
