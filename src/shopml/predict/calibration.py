"""Probability calibration (Platt scaling, isotonic regression) and calibration-curve data.

Fit a calibrator on held-out rows (never the rows the model was trained on), then map the
model's probabilities through it. Both keep their state as plain numbers/arrays (JSON).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.persist import atomic_write_json, read_json

_EPS = 1e-6


def _check(p: Any, y: Any | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    p = np.asarray(p, dtype=np.float64).ravel()
    if len(p) == 0 or not np.isfinite(p).all() or ((p < 0) | (p > 1)).any():
        raise ValidationError("probabilities must be a non-empty array of finite values in [0, 1]")
    if y is None:
        return p, None
    y = np.asarray(y, dtype=np.float64).ravel()
    if y.shape != p.shape:
        raise ValidationError(f"y has {len(y)} values but p has {len(p)}")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ValidationError("y must be 0/1 labels")
    if y.min() == y.max():
        raise ValidationError("calibration needs both classes in y")
    return p, y


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, _EPS, 1 - _EPS)
    return np.log(p) - np.log1p(-p)


class Calibrator(ABC):
    """Base: ``fit(p, y)``, ``transform(p)``, ``to_dict()``/``from_dict``, ``save``/``load``."""

    kind = ""

    def fit(self, p: Any, y: Any) -> Calibrator:
        p, y = _check(p, y)
        self._fit(p, y)
        return self

    def transform(self, p: Any) -> np.ndarray:
        """Calibrated probabilities."""
        if not hasattr(self, "state_"):
            raise NotFittedError(f"{type(self).__name__} is not fitted; call fit() first")
        p, _ = _check(p)
        return np.clip(self._transform(p), 0.0, 1.0)

    @abstractmethod
    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        """Learn the map from raw scores ``p`` to probabilities of ``y``."""

    @abstractmethod
    def _transform(self, p: np.ndarray) -> np.ndarray:
        """Apply the learned map."""

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "state": self.state_}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Calibrator:
        klass = {"platt": PlattCalibrator, "isotonic": IsotonicCalibrator}.get(d.get("kind"))
        if klass is None:
            raise ValidationError(f"unknown calibrator kind {d.get('kind')!r}; expected 'platt' or 'isotonic'")
        c = klass()
        c.state_ = d["state"]
        return c

    def save(self, path: str | Path) -> Path:
        return atomic_write_json(path, self.to_dict())

    @staticmethod
    def load(path: str | Path) -> Calibrator:
        return Calibrator.from_dict(read_json(path))


class PlattCalibrator(Calibrator):
    """``sigmoid(a * logit(p) + b)``, ``a, b`` by maximum likelihood (unpenalised)."""

    kind = "platt"

    def _fit(self, p, y) -> None:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y.astype(int))
        self.state_ = {"a": float(lr.coef_[0, 0]), "b": float(lr.intercept_[0])}

    def _transform(self, p) -> np.ndarray:
        z = self.state_["a"] * _logit(p) + self.state_["b"]
        return 1.0 / (1.0 + np.exp(-z))


class IsotonicCalibrator(Calibrator):
    """A non-decreasing step function fitted by isotonic regression; linear between its knots,
    clipped outside the fitted range.

    Each fitted block's rate ``k / n`` (``k`` positives among its ``n`` calibration rows) is
    smoothed to ``(k + 0.5) / (n + 1)`` (then made non-decreasing again): a block of 2,000
    negatives says the rate is small, not zero, and an exact 0 or 1 would make the log loss of a
    single surprise infinite (clipping to 1e-15 still costs 35 nats).
    """

    kind = "isotonic"

    def _fit(self, p, y) -> None:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
        levels = iso.predict(p)
        uniq, inv = np.unique(levels, return_inverse=True)
        n = np.bincount(inv, minlength=len(uniq)).astype(float)
        k = np.bincount(inv, weights=y, minlength=len(uniq))
        smoothed = np.maximum.accumulate((k + 0.5) / (n + 1.0))
        knots_y = smoothed[np.clip(np.searchsorted(uniq, iso.y_thresholds_), 0, len(uniq) - 1)]
        self.state_ = {"x": iso.X_thresholds_.tolist(), "y": knots_y.tolist()}

    def _transform(self, p) -> np.ndarray:
        return np.interp(p, np.asarray(self.state_["x"]), np.asarray(self.state_["y"]))


def make_calibrator(kind: str) -> Calibrator:
    """``'platt'`` or ``'isotonic'``."""
    klass = {"platt": PlattCalibrator, "isotonic": IsotonicCalibrator}.get(kind)
    if klass is None:
        raise ValidationError(f"unknown calibrator kind {kind!r}; expected 'platt' or 'isotonic'")
    return klass()


def calibration_curve(y: Any, p: Any, n_bins: int = 10, strategy: str = "quantile") -> pd.DataFrame:
    """Reliability-diagram data: per bin ``mean_predicted``, ``fraction_positive``, ``count``.

    ``strategy='quantile'`` gives bins of equal size (useful when positives are rare);
    ``'uniform'`` splits [0, 1] evenly. Empty bins are left out.
    """
    p, y = _check(p, y)
    if int(n_bins) < 1:
        raise ValidationError(f"n_bins must be >= 1, got {n_bins}")
    if strategy == "quantile":
        edges = np.unique(np.quantile(p, np.linspace(0, 1, int(n_bins) + 1)))
    elif strategy == "uniform":
        edges = np.linspace(0, 1, int(n_bins) + 1)
    else:
        raise ValidationError(f"strategy must be 'quantile' or 'uniform', got {strategy!r}")
    bins = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, max(len(edges) - 2, 0))
    frame = pd.DataFrame({"bin": bins, "p": p, "y": y})
    g = frame.groupby("bin")
    return pd.DataFrame(
        {"mean_predicted": g["p"].mean(), "fraction_positive": g["y"].mean(), "count": g.size()}
    ).reset_index()


def expected_calibration_error(y: Any, p: Any, n_bins: int = 10, strategy: str = "quantile") -> float:
    """Count-weighted mean |fraction positive - mean predicted| over the curve's bins."""
    c = calibration_curve(y, p, n_bins, strategy)
    return float(np.average((c["fraction_positive"] - c["mean_predicted"]).abs(), weights=c["count"]))


def plot_calibration(curves: dict[str, pd.DataFrame], path: str | Path, title: str = "Calibration") -> Path:
    """Draw reliability diagrams (one line per model) to a PNG at ``path``."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from shopml.core.persist import atomic_write_bytes

    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="perfect")
    for name, c in curves.items():
        ax.plot(c["mean_predicted"], c["fraction_positive"], marker="o", ms=3, label=name)
    ax.set_xlabel("mean predicted probability")
    ax.set_ylabel("fraction positive")
    ax.set_title(title)
    ax.legend(fontsize=8)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


__all__ = [
    "Calibrator",
    "IsotonicCalibrator",
    "PlattCalibrator",
    "calibration_curve",
    "expected_calibration_error",
    "make_calibrator",
    "plot_calibration",
]
