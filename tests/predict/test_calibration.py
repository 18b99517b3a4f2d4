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
