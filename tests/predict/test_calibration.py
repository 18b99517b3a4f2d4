"""Platt and isotonic calibration repair distorted probabilities; curve data is right."""

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation.classification import brier
from shopml.predict.calibration import (
    Calibrator,
    IsotonicCalibrator,
    PlattCalibrator,
    calibration_curve,
    expected_calibration_error,
    plot_calibration,
)


def _distorted(n=5000, seed=0):
    rng = np.random.default_rng(seed)
    true = rng.uniform(0.02, 0.98, n)
    y = (rng.random(n) < true).astype(int)
    overconfident = 1 / (1 + np.exp(-3 * np.log(true / (1 - true))))
    return overconfident, y


@pytest.mark.parametrize("klass", [PlattCalibrator, IsotonicCalibrator])
def test_calibration_reduces_error_on_new_rows(klass, tmp_path):
    p, y = _distorted()
    p2, y2 = _distorted(seed=1)
    cal = klass().fit(p, y)
    fixed = cal.transform(p2)
    assert expected_calibration_error(y2, fixed) < 0.5 * expected_calibration_error(y2, p2)
    assert brier(y2, fixed) < brier(y2, p2)
    cal.save(tmp_path / "c.json")
    np.testing.assert_allclose(Calibrator.load(tmp_path / "c.json").transform(p2), fixed)


def test_platt_recovers_the_distortion():
    p, y = _distorted(20000)
    a = PlattCalibrator().fit(p, y).state_["a"]
    assert a == pytest.approx(1 / 3, rel=0.1)


def test_curve_bins_and_errors(tmp_path):
    y = np.array([0, 0, 1, 1, 1, 0])
    p = np.array([0.1, 0.1, 0.9, 0.9, 0.6, 0.6])
    c = calibration_curve(y, p, n_bins=2, strategy="uniform")
    assert c["count"].tolist() == [2, 4]
    assert c["fraction_positive"].tolist() == [0.0, 0.75]
    assert plot_calibration({"m": c}, tmp_path / "cal.png").stat().st_size > 1000
    with pytest.raises(ValidationError, match="both classes"):
        PlattCalibrator().fit([0.2, 0.3], [1, 1])
    with pytest.raises(ValidationError):
        IsotonicCalibrator().fit([0.2, 1.3], [0, 1])


def test_isotonic_blocks_are_smoothed_away_from_zero_and_one():
    p = np.r_[np.linspace(0.0, 0.1, 50), np.linspace(0.9, 1.0, 50)]
    y = np.r_[np.zeros(50), np.ones(50)]
    out = IsotonicCalibrator().fit(p, y).transform(np.array([0.05, 0.95]))
    np.testing.assert_allclose(out, [0.5 / 51, 50.5 / 51])


def test_isotonic_falls_back_to_platt_on_few_rows(tmp_path):
    p, y = _distorted(60)
    cal = IsotonicCalibrator().fit(p, y)
    assert cal.method_ == "platt" and "min_rows" in cal.fallback_reason_
    out = cal.transform(p)
    # a monotone map: the ranking survives
    assert np.all(np.diff(out[np.argsort(p)]) >= 0) and out.std() > 0
    again = Calibrator.load(cal.save(tmp_path / "c"))
    assert again.method_ == "platt"
    np.testing.assert_allclose(again.transform(p), out)


def test_calibration_never_turns_a_ranking_into_a_constant():
    """Scores unrelated to the labels: isotonic pools everything into one level; the fallback
    keeps the model's order (Platt with a positive slope, or the identity)."""
    rng = np.random.default_rng(3)
    p = rng.uniform(0.1, 0.9, 400)
    y = (rng.random(400) < 1 - p).astype(int)  # higher scores, fewer positives
    cal = IsotonicCalibrator().fit(p, y)
    out = cal.transform(p)
    assert cal.method_ in ("platt", "none") and cal.fallback_reason_
    assert len(np.unique(out)) > 1
    assert np.all(np.diff(out[np.argsort(p)]) >= -1e-12)


def test_legacy_calibrator_json_still_loads(tmp_path):
    import json

    platt = {"kind": "platt", "state": {"a": 1.0, "b": 0.0}}
    (tmp_path / "calibrator.json").write_text(json.dumps(platt))
    cal = Calibrator.load(tmp_path / "calibrator.json")
    np.testing.assert_allclose(cal.transform([0.2, 0.7]), [0.2, 0.7])
    iso = {"kind": "isotonic", "state": {"x": [0.0, 1.0], "y": [0.1, 0.9]}}
    (tmp_path / "iso.json").write_text(json.dumps(iso))
    np.testing.assert_allclose(Calibrator.load(tmp_path / "iso").transform([0.5]), [0.5])
