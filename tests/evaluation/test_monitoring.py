"""Population stability, drift against a training snapshot, and realised decision costs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation.monitoring import Reference, decision_costs, drift_level, psi


def test_psi_by_hand():
    p, q = np.array([0.5, 0.5]), np.array([0.25, 0.75])
    assert psi(p, q) == pytest.approx(-0.25 * np.log(0.5) + 0.25 * np.log(1.5))
    assert psi(p, p) == 0.0
    assert drift_level(0.05) == "stable" and drift_level(0.2) == "moderate"
    assert drift_level(0.3) == "major" and drift_level(None) == "unknown"


def test_reference_sees_a_shift_and_not_its_own_rows():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"amount": rng.normal(size=5000), "channel": rng.choice(["web", "app"], 5000)})
    ref = Reference.from_dict(Reference.from_frame(X, rng.uniform(size=5000)).to_dict())
    same = ref.input_drift(X)
    assert max(same.values()) < 1e-9
    later = pd.DataFrame({"amount": rng.normal(1.0, size=5000), "channel": ["app"] * 5000})
    drift = ref.input_drift(later)
    assert drift["amount"] > 0.25 and drift["channel"] > 0.25
    assert ref.score_drift(rng.uniform(size=5000)) < 0.02
    assert ref.score_drift(rng.uniform(0.5, 1.0, size=5000)) > 0.25
    # a feature the served rows lack is skipped, missing values are a bin of their own
    assert set(ref.input_drift(later[["amount"]])) == {"amount"}
    with pytest.raises(ValidationError):
        Reference.from_frame(X.iloc[:0])


def test_decision_costs_by_hand():
    y = np.array([1, 0, 0, 1])
    act = np.array([1, 1, 0, 0])
    # review 5 per flag; a missed fraud costs its value 100 + 15
    got = decision_costs(y, act, tp=5.0, fp=5.0, fn=np.array([115.0, 0, 0, 60.0]), tn=0.0)
    assert got["cost"] == 5 + 5 + 0 + 60 and got["cost_do_nothing"] == 115 + 60
    assert got["excess"] == pytest.approx(70 / 175 - 1) and got["acted"] == 2
