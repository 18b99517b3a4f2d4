"""The contract every text model follows: sentiment (polarity, stars, a score) and plain labels.

A :class:`SentimentModel` learns one of two targets, decided by ``target`` (``"auto"`` looks at
``y``):

- ``"classes"``: labels (``negative``/``neutral``/``positive``, intents, ...) or integer star
  ratings (at most 10 distinct whole numbers): a classifier with :meth:`predict_proba`;
- ``"score"``: a continuous sentiment (e.g. the VADER human mean on -4..4): a regressor.

From either it answers the sentiment verbs: :meth:`score` (one number in [-1, 1]),
:meth:`polarity` (negative / neutral / positive), :meth:`stars` (1-5) and :meth:`analyze` (all of
them as a frame). Label sets that are not about sentiment (intents) answer :meth:`predict` and
:meth:`predict_proba` only; the support capability builds its intent classifier on them.

Models implement ``_fit(texts, y, sample_weight)`` (``y``: class indices or float scores) and
``_raw(texts)`` (class probabilities ``(n, K)`` or scores ``(n,)``); the public verbs here check
and convert. Persistence: the base saves the target (classes, kind, scale); models add theirs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator

POLARITY = np.array(["negative", "neutral", "positive"])


def check_texts(texts: Any, what: str = "texts", allow_empty: bool = True) -> list[str]:
    """A list of str from a list, tuple, Series or 1-d array; anything else names the problem."""
    if isinstance(texts, str):
        raise ValidationError(f"{what} must be a list of strings, not one string (wrap it: [text])")
    if isinstance(texts, pd.Series | pd.Index):
        texts = texts.tolist()
    elif isinstance(texts, np.ndarray):
        if texts.ndim != 1:
            raise ValidationError(f"{what} must be 1-d, got shape {texts.shape}")
        texts = texts.tolist()
    elif not isinstance(texts, Sequence):
        raise ValidationError(f"{what} must be a list of strings, got {type(texts).__name__}")
    out = list(texts)
    bad = [i for i, t in enumerate(out) if not isinstance(t, str)]
    if bad:
        i = bad[0]
        raise ValidationError(
            f"{what}[{i}] is {type(out[i]).__name__} ({out[i]!r}), not a string "
            f"({len(bad)} non-string value(s) in all)"
        )
    if not allow_empty and not any(t.strip() for t in out):
        raise ValidationError(f"{what} holds no non-empty text")
    return out


def infer_target(y: np.ndarray) -> str:
    """``classes`` for labels and whole-number ratings (<= 10 levels), ``score`` otherwise."""
    if y.dtype.kind in "biuf":
        yf = y.astype(np.float64)
        if np.all(yf == np.round(yf)) and len(np.unique(yf)) <= 10:
            return "classes"
        return "score"
    return "classes"


def class_polarity(classes: np.ndarray) -> np.ndarray:
    """Per class: -1, 0, +1 or NaN (not a sentiment label).

    Numbers (stars) compare with the middle of their range (1-5: 1, 2 negative, 3 neutral);
    names start with neg / neu / pos (case-insensitive).
    """
    vals = _numeric(classes)
    if vals is not None:
        mid = (vals.min() + vals.max()) / 2
        return np.sign(vals - mid)
    out = np.full(len(classes), np.nan)
    low = np.char.lower(classes.astype(str))
    out[np.char.startswith(low, "neg")] = -1
    out[np.char.startswith(low, "neu")] = 0
    out[np.char.startswith(low, "pos")] = 1
    return out


def _numeric(classes: np.ndarray) -> np.ndarray | None:
    if classes.dtype.kind in "biuf":
        return classes.astype(np.float64)
    try:
        return classes.astype(np.float64)
    except (TypeError, ValueError):
        return None


class SentimentModel(Estimator, ABC):
    """Base of the text models (see the module docstring for the contract)."""

    capability = "text"
    #: subclasses set their constructor parameters; ``target`` and ``seed`` are common to all
    target: str = "auto"
    seed: int = 0

    # ----------------------------------------------------------------- fit
    def fit(self, texts: Any, y: Any, sample_weight: Any = None) -> SentimentModel:
        """Learn from ``texts`` and their labels, star ratings or scores ``y``."""
        texts = check_texts(texts, allow_empty=False)
        y = np.asarray(y.to_numpy() if isinstance(y, pd.Series) else y)
        if y.ndim != 1 or len(y) != len(texts):
            raise ValidationError(
                f"y must be 1-d with one value per text ({len(texts)}), got shape {y.shape}"
            )
        if self.target not in ("auto", "classes", "score"):
            raise ValidationError(
                f"target must be 'auto', 'classes' or 'score', got {self.target!r}"
            )
        if y.dtype.kind == "O":
            if any(v is None or (isinstance(v, float) and np.isnan(v)) for v in y):
                raise ValidationError("y holds missing values; drop those texts first")
            y = y.astype(str)
        elif y.dtype.kind == "f" and np.isnan(y).any():
            raise ValidationError(
                f"y holds {int(np.isnan(y).sum())} NaN value(s); drop those texts first"
            )
        kind = infer_target(y) if self.target == "auto" else self.target
        if sample_weight is not None:
            sample_weight = np.asarray(sample_weight, np.float64)
            if sample_weight.shape != (len(texts),) or (sample_weight < 0).any():
                raise ValidationError("sample_weight must be non-negative, one per text")
        if kind == "classes":
            if y.dtype.kind == "f":
                y = y.astype(np.int64) if np.all(y == np.round(y)) else y
            classes, codes = np.unique(y, return_inverse=True)
            if len(classes) < 2:
                raise ValidationError(f"y has one class only ({classes[0]!r}): nothing to learn")
            self.classes_ = classes
            self.scale_ = 1.0
            target = codes.astype(np.int64)
        else:
            if y.dtype.kind not in "biuf":
                raise ValidationError("target 'score' needs numeric y")
            target = y.astype(np.float64)
            self.classes_ = np.array([], dtype=np.float64)
            self.scale_ = float(max(np.abs(target).max(), 1e-9))
        self.kind_ = kind
        self._fit(texts, target, sample_weight)
        self.fitted_ = True
        return self

    # ----------------------------------------------------------------- hooks
    @abstractmethod
    def _fit(self, texts: list[str], y: np.ndarray, sample_weight: np.ndarray | None) -> None: ...

    @abstractmethod
    def _raw(self, texts: list[str]) -> np.ndarray: ...

    # ----------------------------------------------------------------- verbs
    def _checked(self, texts: Any) -> list[str]:
        self._check_fitted()
        return check_texts(texts)

    def predict_proba(self, texts: Any) -> np.ndarray:
        """Class probabilities ``(n, len(classes_))`` (classification targets only)."""
        texts = self._checked(texts)
        if self.kind_ != "classes":
            raise ValidationError(
                f"{type(self).__name__} learned a score, not classes: use score()"
            )
        if not texts:
            return np.zeros((0, len(self.classes_)))
        return self._raw(texts)

    def predict(self, texts: Any) -> np.ndarray:
        """The most likely class per text, or the predicted score (in ``y``'s units)."""
        texts = self._checked(texts)
        if self.kind_ == "classes":
            return (
                self.classes_[np.argmax(self.predict_proba(texts), axis=1)]
                if texts
                else self.classes_[:0]
            )
        return self._raw(texts) if texts else np.zeros(0)

    def _polarity_values(self) -> np.ndarray:
        pol = class_polarity(self.classes_)
        if np.isnan(pol).any():
            raise ValidationError(
                f"the classes {self.classes_.tolist()[:6]} are not sentiment labels "
                "(negative/neutral/positive or star ratings): use predict()"
            )
        return pol

    def score(self, texts: Any) -> np.ndarray:
        """Sentiment in [-1, 1] per text (expected class polarity, or the scaled score)."""
        texts = self._checked(texts)
        if not texts:
            return np.zeros(0)
        if self.kind_ == "score":
            return np.clip(self._raw(texts) / self.scale_, -1.0, 1.0)
        proba = self._raw(texts)
        vals = _numeric(self.classes_)
        if vals is not None:
            mid, half = (vals.min() + vals.max()) / 2, max((vals.max() - vals.min()) / 2, 1e-9)
            return np.clip(proba @ ((vals - mid) / half), -1.0, 1.0)
        return proba @ self._polarity_values()

    def polarity(self, texts: Any, neutral_band: float = 0.05) -> np.ndarray:
        """``negative``, ``neutral`` or ``positive`` per text.

        Classifiers add up the probability of each polarity's classes; a score model calls
        ``|score| < neutral_band`` neutral.
        """
        texts = self._checked(texts)
        if not texts:
            return POLARITY[:0]
        if self.kind_ == "score":
            s = self.score(texts)
            return POLARITY[np.where(np.abs(s) < neutral_band, 1, np.where(s > 0, 2, 0))]
        pol = self._polarity_values()
        proba = self._raw(texts)
        agg = np.stack([proba[:, pol == v].sum(axis=1) for v in (-1, 0, 1)], axis=1)
        return POLARITY[np.argmax(agg, axis=1)]

    def stars(self, texts: Any) -> np.ndarray:
        """Predicted star rating 1-5 per text.

        A model trained on stars gives the median of its predicted distribution (the value that
        minimises the expected absolute error); any other maps its score onto 1-5.
        """
        texts = self._checked(texts)
        if not texts:
            return np.zeros(0, np.int64)
        vals = _numeric(self.classes_) if self.kind_ == "classes" else None
        if vals is not None and vals.min() >= 1 and vals.max() <= 5:
            cdf = np.cumsum(self._raw(texts), axis=1)
            return vals[np.argmax(cdf >= 0.5, axis=1)].astype(np.int64)
        return np.clip(np.rint(3 + 2 * self.score(texts)), 1, 5).astype(np.int64)

    def analyze(self, texts: Any) -> pd.DataFrame:
        """polarity, score, stars and confidence (the top class probability; NaN for scores)."""
        texts = self._checked(texts)
        out = pd.DataFrame(
            {
                "polarity": self.polarity(texts),
                "score": self.score(texts),
                "stars": self.stars(texts),
            }
        )
        out["confidence"] = (
            self._raw(texts).max(axis=1) if self.kind_ == "classes" and texts else np.nan
        )
        return out

    # ----------------------------------------------------------------- persistence
    def _get_state(self) -> dict[str, np.ndarray]:
        return {"classes": self.classes_}

    def _meta(self) -> dict[str, Any]:
        return {"kind": self.kind_, "scale": self.scale_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.classes_ = arrays["classes"]
        self.kind_ = meta["kind"]
        self.scale_ = float(meta["scale"])


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax, numerically stable."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def validation_split(
    y: np.ndarray, fraction: float, seed: int, kind: str
) -> tuple[np.ndarray, np.ndarray]:
    """Train / validation row indices carved from the training data (stratified for classes)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    n_val = max(int(round(fraction * len(y))), 1)
    strat = None
    if kind == "classes":
        counts = np.bincount(y)
        # stratify only when every class can give one row to each side
        if counts.min() >= 2 and n_val >= len(counts):
            strat = y
    tr, va = train_test_split(idx, test_size=n_val, random_state=seed, stratify=strat)
    return np.sort(tr), np.sort(va)
