"""Demand from the workspace: units per item and week, partial weeks and non-sales excluded."""

from __future__ import annotations

import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.data.workspace import Workspace
from shopml.forecast.data import categories, demand_frame, regularize, top_series
from tests.forecast.shop import tiny_orders, tiny_workspace


def test_weekly_units_of_completed_orders_only(tmp_path):
    path = tiny_workspace(tmp_path / "ws.duckdb")
    orders = tiny_orders()
    with Workspace(path, read_only=True) as ws:
        df = demand_frame(ws, "W")
        cats = categories(ws)
    assert cats["item0"] == "mugs"
    # data from Wednesday 2024-01-03: the first (partial) week is dropped; so is the last
    assert df["ds"].min() == pd.Timestamp("2024-01-08")
    last_day = orders["ts"].max().tz_convert(None).normalize()
    assert df["ds"].max() + pd.Timedelta(days=6) <= last_day
    assert (df["ds"].dt.dayofweek == 0).all()
    done = orders[orders["status"] == "completed"].copy()
    done["ds"] = done["ts"].dt.tz_convert(None).dt.to_period("W-SUN").dt.start_time
    expect = done.groupby(["item_id", "ds"])["quantity"].sum()
    got = df.set_index(["unique_id", "ds"])["y"]
    common = got.index.intersection(expect.index)
    assert len(common) > 50
    pd.testing.assert_series_equal(got.loc[common], expect.loc[common], check_names=False)
    # every series is regular: one row per week from its first week to the end
    per = df.groupby("unique_id")["ds"].agg(["min", "max", "count"])
    assert ((per["max"] - per["min"]).dt.days // 7 + 1 == per["count"]).all()
    assert top_series(df, 2) == ["item0", "item1"]


def test_regularize_fills_gaps_with_zero_and_carries_exogenous():
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b"],
            "ds": pd.to_datetime(["2024-01-01", "2024-01-15", "2024-01-08"]),
            "y": [1.0, 3.0, 2.0],
            "price": [5.0, 6.0, 7.0],
        }
    )
    out = regularize(df, "W")
    a = out[out["unique_id"] == "a"]
    assert a["y"].tolist() == [1.0, 0.0, 3.0] and a["price"].tolist() == [5.0, 5.0, 6.0]
    assert out[out["unique_id"] == "b"]["ds"].max() == pd.Timestamp("2024-01-15")
    with pytest.raises(ValidationError):
        regularize(df.assign(ds=pd.to_datetime(["2024-01-02", "2024-01-15", "2024-01-08"])), "W")
