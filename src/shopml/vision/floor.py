"""The non-deep floor: colour histograms + HOG-like gradient histograms + LightGBM.

Features, all computed in NumPy over a whole batch at once (``np.bincount`` with per-image
offsets, no per-image loop):

- a joint HSV colour histogram (``hue_bins x sat_bins x val_bins``) of the whole image and of
  its centre (the garment is usually in the middle, the background at the edges);
- HOG-like: unsigned gradient orientations (``orientations`` bins) weighted by gradient
  magnitude, per cell of a ``cells x cells`` grid, each cell L2-normalised;
- an 8x8 grey thumbnail (coarse shape).

LightGBM (multiclass) stops early on the validation part carved from the training images.
:meth:`embed` returns the standardised feature vector, so "similar" here means similar colours
and edge layout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_text
from shopml.vision.base import ImageClassifier, stratified_holdout

MODEL_FILE = "model.txt"


def rgb_to_hsv(X: np.ndarray) -> np.ndarray:
    """uint8 RGB ``(..., 3)`` -> float HSV in [0, 1) x [0, 1] x [0, 1]."""
    x = X.astype(np.float32) / 255.0
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    mx = x.max(axis=-1)
    mn = x.min(axis=-1)
    d = mx - mn
    safe = np.where(d > 0, d, 1.0)
    h = np.where(
        mx == r,
        ((g - b) / safe) % 6.0,
        np.where(mx == g, (b - r) / safe + 2.0, (r - g) / safe + 4.0),
    )
    h = np.where(d > 0, h / 6.0, 0.0) % 1.0
    s = np.where(mx > 0, d / np.where(mx > 0, mx, 1.0), 0.0)
    return np.stack([h, s, mx], axis=-1)


def _joint_hist(hsv: np.ndarray, bins: tuple[int, int, int]) -> np.ndarray:
    """Per-image normalised joint HSV histogram, ``(n, prod(bins))``."""
    n = hsv.shape[0]
    nb = np.asarray(bins)
    q = np.minimum((hsv * nb).astype(np.int64), nb - 1)
    code = (q[..., 0] * nb[1] + q[..., 1]) * nb[2] + q[..., 2]
    k = int(np.prod(nb))
    flat = code.reshape(n, -1) + (np.arange(n) * k)[:, None]
    h = np.bincount(flat.ravel(), minlength=n * k).reshape(n, k).astype(np.float32)
    return h / h.sum(axis=1, keepdims=True)


def hog_features(gray: np.ndarray, cells: int, orientations: int) -> np.ndarray:
    """Magnitude-weighted orientation histograms per cell, ``(n, cells*cells*orientations)``."""
    n, s, _ = gray.shape
    gx = np.zeros_like(gray)
    gy = np.zeros_like(gray)
    gx[:, :, 1:-1] = gray[:, :, 2:] - gray[:, :, :-2]
    gy[:, 1:-1, :] = gray[:, 2:, :] - gray[:, :-2, :]
    mag = np.hypot(gx, gy)
    ang = np.arctan2(gy, gx) % np.pi  # unsigned orientation
    ob = np.minimum((ang / np.pi * orientations).astype(np.int64), orientations - 1)
    cell_of = np.minimum(np.arange(s) * cells // s, cells - 1)
    cell = cell_of[:, None] * cells + cell_of[None, :]
    k = cells * cells * orientations
    code = cell[None] * orientations + ob + (np.arange(n) * k)[:, None, None]
    h = np.bincount(code.ravel(), weights=mag.ravel(), minlength=n * k).reshape(
        n, cells * cells, orientations
    )
    h /= np.linalg.norm(h, axis=2, keepdims=True) + 1e-6
    return h.reshape(n, k).astype(np.float32)


class HistogramGBMClassifier(ImageClassifier):
    """Colour + gradient histograms with a LightGBM multiclass model (the non-deep floor).

    Parameters
    ----------
    image_size
        Square side images are decoded to before the features.
    hue_bins, sat_bins, val_bins
        Joint HSV histogram bins.
    cells, orientations
        HOG grid (``cells x cells``) and orientation bins.
    n_estimators, learning_rate, num_leaves, min_child_samples
        LightGBM; boosting stops early on the validation part (``validation_fraction``).
    """

    def __init__(
        self,
        image_size: int = 64,
        hue_bins: int = 8,
        sat_bins: int = 4,
        val_bins: int = 4,
        cells: int = 4,
        orientations: int = 9,
        n_estimators: int = 500,
        learning_rate: float = 0.05,
        num_leaves: int = 15,
        min_child_samples: int = 10,
        validation_fraction: float = 0.15,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.image_size = image_size
        self.hue_bins = hue_bins
        self.sat_bins = sat_bins
        self.val_bins = val_bins
        self.cells = cells
        self.orientations = orientations
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.validation_fraction = validation_fraction
        self.n_jobs = n_jobs
        self.seed = seed

    def _decode_size(self) -> int:
        return int(self.image_size)

    def features(self, X: np.ndarray) -> np.ndarray:
        """The feature matrix of decoded uint8 images ``(n, s, s, 3)``."""
        if not isinstance(self.image_size, int) or self.image_size < 8:
            raise ValidationError(f"image_size must be an int >= 8, got {self.image_size!r}")
        n, s = X.shape[0], X.shape[1]
        bins = (int(self.hue_bins), int(self.sat_bins), int(self.val_bins))
        hsv = rgb_to_hsv(X)
        c0, c1 = s // 4, s - s // 4
        gray = X.astype(np.float32) @ np.array([0.299, 0.587, 0.114], dtype=np.float32) / 255.0
        t = 8 if s >= 8 else s
        thumb = (
            gray[:, : s - s % t, : s - s % t]
            .reshape(n, t, (s - s % t) // t, t, -1)
            .mean(axis=(2, 4))
        )
        return np.concatenate(
            [
                _joint_hist(hsv, bins),
                _joint_hist(hsv[:, c0:c1, c0:c1], bins),
                hog_features(gray, int(self.cells), int(self.orientations)),
                thumb.reshape(n, -1),
            ],
            axis=1,
        )

    def _params(self, n_classes: int) -> dict[str, Any]:
        return {
            "objective": "multiclass",
            "num_class": n_classes,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": 0.5,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "num_threads": self.n_jobs,
            "seed": self.seed,
            "deterministic": True,
            "verbose": -1,
        }

    def _fit(self, X: np.ndarray, y: np.ndarray) -> None:
        import lightgbm as lgb

        F = self.features(X)
        self.feat_mean_ = F.mean(axis=0)
        self.feat_std_ = F.std(axis=0) + 1e-6
        tr, va = stratified_holdout(y, self.validation_fraction, self.seed)
        params = self._params(len(self.classes_))
        dtrain = lgb.Dataset(F[tr], y[tr])
        if len(va):
            dval = lgb.Dataset(F[va], y[va], reference=dtrain)
            booster = lgb.train(
                params,
                dtrain,
                num_boost_round=int(self.n_estimators),
                valid_sets=[dval],
                callbacks=[lgb.early_stopping(50, verbose=False)],
            )
            p = booster.predict(F[va], num_iteration=booster.best_iteration)
            self.validation_accuracy_ = float((p.argmax(1) == y[va]).mean())
        else:
            booster = lgb.train(params, dtrain, num_boost_round=int(self.n_estimators))
            self.validation_accuracy_ = None
        self.best_iteration_ = int(booster.best_iteration or booster.current_iteration())
        self.booster_ = booster

    def _predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = self.booster_.predict(self.features(X), num_iteration=self.best_iteration_)
        return np.asarray(p).reshape(len(X), len(self.classes_))

    def _embed(self, X: np.ndarray) -> np.ndarray:
        return (self.features(X) - self.feat_mean_) / self.feat_std_

    # ----------------------------------------------------------------- persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        return {"feat_mean": self.feat_mean_, "feat_std": self.feat_std_}

    def _meta(self) -> dict[str, Any]:
        return {
            "best_iteration": self.best_iteration_,
            "validation_accuracy": self.validation_accuracy_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.feat_mean_ = arrays["feat_mean"]
        self.feat_std_ = arrays["feat_std"]
        self.best_iteration_ = int(meta["best_iteration"])
        self.validation_accuracy_ = meta.get("validation_accuracy")

    def _save_files(self, folder: Path) -> None:
        atomic_write_text(folder / MODEL_FILE, self.booster_.model_to_string())

    def _load_files(self, folder: Path) -> None:
        import lightgbm as lgb

        self.booster_ = lgb.Booster(model_str=(folder / MODEL_FILE).read_text())


__all__ = ["HistogramGBMClassifier", "hog_features", "rgb_to_hsv"]
