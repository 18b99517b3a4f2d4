"""The image-classifier contract every vision model follows.

Public verbs (validate, then call a model's private ``_`` hooks)::

    model.fit(images, labels)          images: paths, bytes, (H, W, 3) arrays or one (N, H, W, 3)
    model.predict_proba(images)        (n, n_classes) float64, columns in ``classes_`` order
    model.predict(images)              (n,) class labels (str)
    model.embed(images)                (n, d) float32, L2-normalised: cosine = dot product

``fit`` skips unreadable or truncated images and lists them with their reason in
``skipped_`` (a catalogue with a few broken files still trains); the prediction verbs raise
:class:`~shopml.core.errors.DataError` naming the file instead, since a silently missing row would
misalign outputs with inputs (the batch job decodes first and skips explicitly). Model
selection (best epoch, boosting rounds) uses a stratified validation part carved from the
training images (``validation_fraction``), never the data a benchmark reports on.

A model implements ``_decode_size()`` (the square side images are decoded to), ``_fit(X, y)``
on uint8 ``(n, s, s, 3)`` and integer codes, ``_predict_proba(X)`` and ``_embed(X)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np

from shopml.core.errors import ShopMLError, ValidationError
from shopml.core.estimator import Estimator
from shopml.vision.io import Decoded, as_inputs, decode_many

#: at most this many skipped images are kept in the saved model's metadata
_MAX_SKIPPED_KEPT = 200


def stratified_holdout(y: np.ndarray, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Positions ``(train, validation)`` with about ``fraction`` of each class held out
    (classes with fewer than 2 images stay whole in training)."""
    if not 0 <= fraction < 1:
        raise ValidationError(f"validation_fraction must be in [0, 1), got {fraction}")
    n = len(y)
    if fraction == 0:
        return np.arange(n), np.arange(0)
    rng = np.random.default_rng(seed)
    order = rng.permutation(n)
    ys = y[order]
    # rank of each image inside its class (in the shuffled order), vectorised with a stable sort
    srt = np.argsort(ys, kind="stable")
    counts = np.bincount(ys)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(n, dtype=np.int64)
    rank[srt] = np.arange(n) - np.repeat(starts, counts)
    n_val = np.where(counts >= 2, np.maximum(1, np.round(counts * fraction)), 0).astype(int)
    is_val = rank < n_val[ys]
    return np.sort(order[~is_val]), np.sort(order[is_val])


class ImageClassifier(Estimator, ABC):
    """Base class of every vision model: see the module docstring for the contract."""

    capability: ClassVar[str] = "vision"

    @abstractmethod
    def _decode_size(self) -> int:
        """Square side (pixels) images are decoded to before the model's own preprocessing."""

    # ----------------------------------------------------------------- fit
    def fit(self, images: Any, labels: Any) -> ImageClassifier:
        """Learn from ``images`` and their class ``labels`` (any hashable labels, kept as str).

        Unreadable images are skipped and listed in ``skipped_`` (``position, source, reason``).
        """
        items = as_inputs(images)
        y = np.asarray(labels)
        if y.ndim != 1 or len(y) != len(items):
            raise ValidationError(
                f"labels must be one label per image: {len(items)} images, "
                f"labels of shape {y.shape}"
            )
        if y.dtype == object and any(v is None for v in y):
            raise ValidationError("labels hold None; drop unlabelled images before fit")
        dec = decode_many(
            items, self._decode_size(), skip_bad=True, desc="decoding training images"
        )
        if len(dec.index) == 0:
            raise ValidationError(
                f"none of the {len(items)} images could be read; first: {dec.skipped[0][2]}"
            )
        y = y[dec.index].astype(str)
        classes, codes = np.unique(y, return_inverse=True)
        if len(classes) < 2:
            raise ValidationError(f"a classifier needs at least 2 classes, got {list(classes)}")
        self.classes_ = classes
        self.skipped_ = dec.skipped_report()
        self._fit(dec.images, codes.astype(np.int64))
        self.fitted_ = True
        return self

    @abstractmethod
    def _fit(self, X: np.ndarray, y: np.ndarray) -> None: ...

    # ----------------------------------------------------------------- verbs
    def _decoded(self, images: Any) -> np.ndarray:
        self._check_fitted()
        dec: Decoded = decode_many(images, self._decode_size(), skip_bad=False)
        return dec.images

    def predict_proba(self, images: Any) -> np.ndarray:
        """Class probabilities, ``(n, n_classes)``, columns in ``classes_`` order."""
        X = self._decoded(images)
        p = np.asarray(self._predict_proba(X), dtype=np.float64)
        if p.shape != (len(X), len(self.classes_)):
            raise ShopMLError(f"{type(self).__name__}._predict_proba returned shape {p.shape}")
        return p

    def predict(self, images: Any) -> np.ndarray:
        """The most probable class label of each image."""
        return self.classes_[self.predict_proba(images).argmax(axis=1)]

    def embed(self, images: Any) -> np.ndarray:
        """L2-normalised visual embeddings ``(n, d)``: similar-looking images have a high dot
        product."""
        X = self._decoded(images)
        e = np.asarray(self._embed(X), dtype=np.float32)
        norms = np.linalg.norm(e, axis=1, keepdims=True)
        return e / np.maximum(norms, 1e-12)

    def predict_decoded(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(probabilities, embeddings)`` of images already decoded to ``_decode_size()``
        (uint8 ``(n, s, s, 3)``), in one pass; used by the batch job and the benchmark."""
        self._check_fitted()
        s = self._decode_size()
        if X.dtype != np.uint8 or X.ndim != 4 or X.shape[1:] != (s, s, 3):
            raise ValidationError(f"expected uint8 images of shape (n, {s}, {s}, 3), got {X.shape}")
        p = np.asarray(self._predict_proba(X), dtype=np.float64)
        e = np.asarray(self._embed(X), dtype=np.float32)
        return p, e / np.maximum(np.linalg.norm(e, axis=1, keepdims=True), 1e-12)

    @abstractmethod
    def _predict_proba(self, X: np.ndarray) -> np.ndarray: ...

    @abstractmethod
    def _embed(self, X: np.ndarray) -> np.ndarray: ...

    # ----------------------------------------------------------------- persistence
    def _base_state(self) -> dict[str, np.ndarray]:
        return {"classes": np.asarray(self.classes_, dtype=str)}

    def _base_meta(self) -> dict[str, Any]:
        return {"skipped": list(getattr(self, "skipped_", []))[:_MAX_SKIPPED_KEPT]}

    def _set_base_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.classes_ = np.asarray(arrays["classes"]).astype(str)
        self.skipped_ = list(meta.get("skipped", []))

    # ----------------------------------------------------------------- contract test
    @classmethod
    def _contract_example(cls, **params: Any) -> tuple[ImageClassifier, dict, dict]:
        """A tiny fitted instance on generated striped images, good inputs and bad inputs
        (an array that is not an image batch)."""
        X, y = toy_images(n=48, size=20)
        params = {k: v for k, v in _SMALL.items() if k in cls().get_params()} | params
        model = cls(**params).fit(X, y)
        return model, {"images": X[:6]}, {"images": np.zeros((3, 8, 8), dtype=np.uint8)}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        images = inputs["images"]
        return {
            "predict_proba": self.predict_proba(images),
            "predict": self.predict(images),
            "embed": self.embed(images),
        }


#: small settings for contract-test instances, used where a model has the parameter
_SMALL: dict[str, Any] = {
    "image_size": 16,
    "widths": (4, 8),
    "blocks": (1, 1),
    "epochs": 2,
    "batch_size": 16,
    "n_estimators": 10,
    "num_leaves": 4,
    "min_child_samples": 2,
    "cells": 2,
}


def toy_images(n: int = 48, size: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Generated ``(n, size, size, 3)`` uint8 images of two classes a model can tell apart:
    reddish horizontal stripes (``"stripes-h"``) and bluish vertical ones (``"stripes-v"``)."""
    rng = np.random.default_rng(seed)
    y = np.where(np.arange(n) % 2 == 0, "stripes-h", "stripes-v")
    ramp = (np.arange(size) // 3) % 2  # stripes 3 pixels wide
    horiz = np.broadcast_to(ramp[:, None], (size, size))
    pattern = np.where((y == "stripes-h")[:, None, None], horiz, horiz.T)
    base = np.where((y == "stripes-h")[:, None], [200, 60, 40], [40, 80, 200])
    img = pattern[..., None] * base[:, None, None, :] + rng.normal(0, 20, (n, size, size, 3))
    return np.clip(img + 30, 0, 255).astype(np.uint8), y


__all__ = ["ImageClassifier", "stratified_holdout", "toy_images"]
