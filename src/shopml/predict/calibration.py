"""Probability calibration (Platt scaling, isotonic regression) and calibration-curve data.

Fit a calibrator on held-out rows (never the rows the model was trained on), then map the
model's probabilities through it. Calibrators are estimators
(:class:`~shopml.core.estimator.Estimator`: ``save``/``load`` a folder in the ``shopml.model/1``
format; the older single ``.json`` file still loads). Isotonic regression is scikit-learn's;
when the validation rows are too few for it (or it would flatten the scores into one value) the
calibrator falls back to Platt scaling, or to no calibration at all, and says so in ``method_``
and ``fallback_reason_``: calibration never turns a ranking into a constant.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator
from shopml.core.persist import read_json

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


class Calibrator(Estimator, ABC):
    """Base: ``fit(p, y)``, ``transform(p)``; ``save``/``load`` from the estimator base.

    ``method_`` is the map actually fitted (``"platt"``, ``"isotonic"`` or ``"none"`` for the
    identity) and ``state_`` its numbers (JSON-safe).
    """

    capability: ClassVar[str] = "predict"
    kind: ClassVar[str] = ""

    def fit(self, p: Any, y: Any) -> Calibrator:
        """Learn the map from raw probabilities ``p`` to the rates of labels ``y`` (0/1)."""
        p, y = _check(p, y)
        self.fallback_reason_: str | None = None
        self.method_ = self.kind
        self._fit(p, y)
        self.fitted_ = True
        return self

    def transform(self, p: Any) -> np.ndarray:
        """Calibrated probabilities."""
        self._check_fitted()
        p, _ = _check(p)
        if self.method_ == "none":
            return p
        if self.method_ == "platt":
            z = self.state_["a"] * _logit(p) + self.state_["b"]
            return np.clip(1.0 / (1.0 + np.exp(-z)), 0.0, 1.0)
        return np.clip(np.interp(p, self.state_["x"], self.state_["y"]), 0.0, 1.0)

    @abstractmethod
    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        """Set ``method_`` and ``state_`` from raw scores ``p`` and labels ``y``."""

    def _fit_platt(self, p: np.ndarray, y: np.ndarray) -> None:
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=1e6, max_iter=1000).fit(_logit(p)[:, None], y.astype(int))
        a, b = float(lr.coef_[0, 0]), float(lr.intercept_[0])
        if a <= 0:
            # a non-positive slope would flatten or reverse the model's ranking: keep it as is
            self.method_, self.state_ = "none", {}
            self.fallback_reason_ = (self.fallback_reason_ or "") + (
                f"Platt slope {a:.3g} <= 0 (scores do not rank the labels): left uncalibrated"
            )
            return
        self.method_, self.state_ = "platt", {"a": a, "b": b}

    # ----------------------------------------------------------------- persistence
    def _meta(self) -> dict[str, Any]:
        meta = {"method": self.method_, "fallback_reason": self.fallback_reason_}
        if self.method_ == "platt":
            meta["state"] = dict(self.state_)
        return meta

    def _get_state(self) -> dict[str, np.ndarray]:
        if self.method_ != "isotonic":
            return {}
        return {"x": np.asarray(self.state_["x"]), "y": np.asarray(self.state_["y"])}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.method_ = meta["method"]
        self.fallback_reason_ = meta.get("fallback_reason")
        if self.method_ == "isotonic":
            self.state_ = {"x": arrays["x"], "y": arrays["y"]}
        else:
            self.state_ = dict(meta.get("state", {}))

    def to_dict(self) -> dict[str, Any]:
        """``{"kind", "method", "state"}`` as plain JSON."""
        self._check_fitted()
        state = {k: np.asarray(v).tolist() for k, v in self.state_.items()}
        return {"kind": self.kind, "method": self.method_, "state": state}

    @staticmethod
    def from_dict(d: dict[str, Any]) -> Calibrator:
        """The calibrator :meth:`to_dict` (or the older ``calibrator.json`` file) describes."""
        c = make_calibrator(str(d.get("kind")))
        c.method_ = d.get("method", d.get("kind"))
        c.fallback_reason_ = None
        c.state_ = {k: (np.asarray(v) if isinstance(v, list) else v) for k, v in d["state"].items()}
        c.fitted_ = True
        return c

    @classmethod
    def load(cls, path: str | Path) -> Calibrator:  # type: ignore[override]
        """A calibrator saved by :meth:`save` (a folder), or the older single JSON file (which
        older versions wrote as ``calibrator.json``, also found when ``path`` lacks ``.json``)."""
        path = Path(path)
        legacy = path if path.suffix == ".json" else path.with_suffix(".json")
        if not (path / "model.json").is_file() and legacy.is_file():
            return Calibrator.from_dict(read_json(legacy))
        return super().load(path)

    @classmethod
    def _contract_example(cls) -> tuple[Calibrator, dict, dict]:
        rng = np.random.default_rng(0)
        p = rng.uniform(0.01, 0.99, 400)
        y = (rng.random(400) < p**2).astype(int)
        return cls().fit(p, y), {"p": p[:20]}, {"p": np.array([0.2, 1.5])}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"transform": self.transform(inputs["p"])}


class PlattCalibrator(Calibrator):
    """``sigmoid(a * logit(p) + b)``, ``a, b`` by maximum likelihood (unpenalised); the identity
    (``method_ == "none"``) when the fitted slope ``a`` is not positive."""

    kind = "platt"

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        self._fit_platt(p, y)


class IsotonicCalibrator(Calibrator):
    """A non-decreasing step function fitted by scikit-learn's ``IsotonicRegression``; linear
    between its knots, clipped outside the fitted range.

    Each fitted block's rate ``k / n`` (``k`` positives among its ``n`` calibration rows) is
    smoothed to ``(k + 0.5) / (n + 1)`` (then made non-decreasing again): a block of 2,000
    negatives says the rate is small, not zero, and an exact 0 or 1 would make the log loss of a
    single surprise infinite (clipping to 1e-15 still costs 35 nats).

    Isotonic regression overfits small samples and can pool everything into one block. With
    fewer than ``min_rows`` rows or fewer than ``min_class`` rows of either class, or when the
    fit has a single level (a constant would erase the model's ranking), it falls back to Platt
    scaling (and that to the identity when its slope is not positive); ``method_`` says which
    map was fitted and ``fallback_reason_`` why.
    """

    kind = "isotonic"

    def __init__(self, min_rows: int = 100, min_class: int = 10) -> None:
        self.min_rows = min_rows
        self.min_class = min_class

    def _fit(self, p: np.ndarray, y: np.ndarray) -> None:
        from sklearn.isotonic import IsotonicRegression

        n_pos = int(y.sum())
        small = len(y) < self.min_rows or min(n_pos, len(y) - n_pos) < self.min_class
        if small:
            self.fallback_reason_ = (
                f"{len(y)} validation rows ({n_pos} positive) are fewer than min_rows="
                f"{self.min_rows} or min_class={self.min_class}: Platt scaling instead. "
            )
            self._fit_platt(p, y)
            return
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(p, y)
        levels = iso.predict(p)
        uniq, inv = np.unique(levels, return_inverse=True)
        if len(uniq) < 2:
            self.fallback_reason_ = "isotonic fit is one constant level: Platt scaling instead. "
            self._fit_platt(p, y)
            return
        n = np.bincount(inv, minlength=len(uniq)).astype(float)
        k = np.bincount(inv, weights=y, minlength=len(uniq))
        smoothed = np.maximum.accumulate((k + 0.5) / (n + 1.0))
        knots_y = smoothed[np.clip(np.searchsorted(uniq, iso.y_thresholds_), 0, len(uniq) - 1)]
        self.state_ = {"x": np.asarray(iso.X_thresholds_, np.float64), "y": knots_y}


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
