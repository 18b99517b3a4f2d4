"""Forecast metrics: MASE, WAPE, RMSSE, pinball and coverage against hand-computed values."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation.forecast import coverage, forecast_metrics, mase, pinball, rmsse, wape


@pytest.fixture
def frames():
    ds = pd.date_range("2024-01-01", periods=4, freq="W-MON")
    history = pd.DataFrame(
        {
            "unique_id": ["a"] * 4 + ["b"] * 4,
            "ds": list(ds) * 2,
            "y": [1, 3, 2, 4, 10, 10, 10, 10.0],
        }
    )
    fut = pd.date_range("2024-01-29", periods=2, freq="W-MON")
    df = pd.DataFrame(
        {
            "unique_id": ["a", "a", "b", "b"],
            "ds": list(fut) * 2,
            "y": [3, 5, 10, 12.0],
            "point": [4, 4, 11, 11.0],
            "q0.1": [2, 2, 9, 9.0],
            "q0.9": [6, 6, 13, 13.0],
        }
    )
    return df, history


def test_values_by_hand(frames):
    df, history = frames
    # series a: naive MAE of 1,3,2,4 is (2+1+2)/3 = 5/3; errors 1,1 -> MASE 0.6;
    # b has a naive scale of 0: left out
    assert mase(df, history) == pytest.approx(0.6)
    # naive MSE (4+1+4)/3 = 3; MSE of errors 1 -> RMSSE sqrt(1/3)
    assert rmsse(df, history) == pytest.approx(np.sqrt(1 / 3))
    assert wape(df["y"], df["point"]) == pytest.approx(4 / 30)
    # pinball 0.5 = half the absolute error, times 2 / sum(y) -> equals WAPE of the median
    assert pinball(df["y"], df["point"], 0.5) == pytest.approx(4 / 30)
    assert pinball(df["y"], df["q0.9"], 0.9) == pytest.approx(2 * (0.1 * (3 + 1 + 3 + 1)) / 30)
    assert coverage(df["y"], df["q0.1"], df["q0.9"]) == 1.0
    out = forecast_metrics(df.assign(**{"lo-80": df["q0.1"], "hi-80": df["q0.9"]}), history)
    assert set(out) >= {"mase", "wape", "rmsse", "pinball@0.1", "pinball@0.9", "coverage@80"}
    with pytest.raises(ValidationError):
        forecast_metrics(df.drop(columns=["point"]), history)
    with pytest.raises(ValidationError):
        pinball(df["y"], df["point"], 1.5)
