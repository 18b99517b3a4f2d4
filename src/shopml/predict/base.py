"""The one contract every predictor follows (DESIGN.md §3): tabular rows in, P(y=1) or a value out.

Public methods validate; subclasses implement private hooks only:

- ``__init__`` stores hyper-parameters unchanged and does no work;
- ``fit(X, y, *, sample_weight=None, eval_set=None)`` checks ``X`` (a DataFrame of features),
  ``y`` (0/1 for classifiers, finite numbers for regressors; no NaN), the weights and the
  optional validation pair, fits the shared :class:`~shopml.predict.encoding.FeatureEncoder`
  (``self.encoder_``: numeric vs categorical columns, standardisation, vocabularies with an
  unseen bucket), then calls ``_fit(X, y, sample_weight, eval_set)``; learned state ends in ``_``;
- ``predict_proba(X) -> ndarray (n,)``: P(y=1) for classifiers (``_predict_proba``);
  ``predict(X)``: values for regressors (``_predict``), 0/1 at ``threshold`` for classifiers;
- ``explain(X) -> DataFrame``: per-feature attributions on the model's raw output scale
  (log-odds for classifiers), one column per input feature plus ``bias``; rows sum to the raw
  output exactly for linear models and LightGBM, approximately for torch models (``_explain``);
- ``save(path)`` / ``load(path)`` come from :class:`~shopml.core.estimator.Estimator`: a folder
  with ``model.json`` (format ``shopml.model/1``, class, params, the encoder and feature names,
  what ``_meta`` returns), ``arrays.npz`` (what ``_get_state`` returns; read without pickle) and
  any files ``_save_files`` writes (LightGBM writes its text model). ``load`` imports only
  classes inside ``shopml`` that subclass :class:`Predictor`, and never executes code from the
  files. Models saved in the older ``shopml.predictor/1`` format fail with "retrain".

How a torch model plugs in: subclass :class:`shopml.predict.torch_train.TorchPredictor`
(itself a :class:`Predictor`). It implements ``_build_module()`` returning an ``nn.Module`` whose
``forward(**inputs)`` returns logits of shape ``(batch,)``; by default ``inputs`` are
``numeric`` (float32, standardised, ``encoder_.numeric_names``) and ``categorical`` (int64 codes,
``0`` = unseen, table sizes ``encoder_.cardinalities``); a model that needs other inputs (event
sequences) overrides ``_inputs(X) -> dict[str, ndarray]``. Seeding, minibatches, BCE with L2,
early stopping on a validation slice, progress bars, persistence of the weights and
gradient×input / occlusion explanations come from there. The contract tests in
``tests/predict/contract.py`` (``PredictorContract`` with a ``_get_model()`` hook) apply to
every predictor.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shopml.core.errors import ShopMLError, ValidationError
from shopml.core.estimator import Estimator
from shopml.predict.encoding import FeatureEncoder, check_frame

EvalSet = tuple[pd.DataFrame, Any]


def check_target(y: Any, n: int, classifier: bool, name: str = "y") -> np.ndarray:
    """Labels as a 1-D float64 array of length ``n``: 0/1 (both present) or finite numbers."""
    if isinstance(y, (pd.DataFrame,)):
        if y.shape[1] != 1:
            raise ValidationError(f"{name} must be one column, got {y.shape[1]}")
        y = y.iloc[:, 0]
    try:
        arr = np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValidationError(f"{name} must hold numbers (0/1 labels or values)") from None
    if arr.ndim != 1:
        raise ValidationError(f"{name} must be 1-dimensional, got shape {arr.shape}")
    if len(arr) != n:
        raise ValidationError(f"{name} has {len(arr)} values but X has {n} rows")
    nan = np.isnan(arr)
    if nan.any():
        raise ValidationError(f"{name} has {int(nan.sum())} missing (NaN) value(s), first at row {int(np.argmax(nan))}")
    if not np.isfinite(arr).all():
        raise ValidationError(f"{name} has infinite value(s)")
    if classifier:
        bad = ~np.isin(arr, (0.0, 1.0))
        if bad.any():
            vals = np.unique(arr[bad])[:5].tolist()
            raise ValidationError(f"{name} must be binary 0/1 labels; found {vals}")
        if arr.min() == arr.max():
            raise ValidationError(f"{name} holds only class {int(arr[0])}; a classifier needs both 0 and 1")
    return arr


def check_weight(w: Any, n: int) -> np.ndarray | None:
    """Sample weights: ``None`` or ``n`` finite non-negative numbers with a positive sum."""
    if w is None:
        return None
    arr = np.asarray(w, dtype=np.float64)
    if arr.shape != (n,):
        raise ValidationError(f"sample_weight must have shape ({n},), got {arr.shape}")
    if not np.isfinite(arr).all() or (arr < 0).any() or arr.sum() <= 0:
        raise ValidationError("sample_weight must be finite, non-negative and not all zero")
    return arr


def time_ordered_validation(n: int, fraction: float) -> tuple[np.ndarray, np.ndarray]:
    """Train and validation row indices: the last ``fraction`` of rows validate.

    Rows are assumed to be in time order (pass them so), so early stopping never peeks at rows
    older than the ones it trains on.
    """
    if not 0 < fraction < 1:
        raise ValidationError(f"validation_fraction must be in (0, 1), got {fraction}")
    n_val = max(1, int(round(n * fraction)))
    if n - n_val < 1:
        raise ValidationError(f"{n} rows are too few to hold out a validation slice")
    return np.arange(n - n_val), np.arange(n - n_val, n)


class Predictor(Estimator, ABC):
    """Base class of every predictor: see the module docstring for the contract."""

    capability: ClassVar[str] = "predict"
    #: classifiers predict P(y=1); regressors predict values
    is_classifier: ClassVar[bool] = True

    def _make_encoder(self) -> FeatureEncoder:
        """The encoder this model uses; models read their own ``numeric``/``categorical``/
        ``min_frequency`` parameters when they have them."""
        return FeatureEncoder(
            numeric=getattr(self, "numeric", None),
            categorical=getattr(self, "categorical", None),
            standardize=getattr(self, "standardize", True),
            min_frequency=getattr(self, "min_frequency", 1),
            max_categories=getattr(self, "max_categories", None),
        )

    # ----------------------------------------------------------------- fit
    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        sample_weight: Any = None,
        eval_set: EvalSet | None = None,
    ) -> Predictor:
        """Learn from features ``X`` and targets ``y``; ``eval_set=(X_val, y_val)`` is used for
        early stopping by models that stop early (others ignore it)."""
        X = check_frame(X)
        yv = check_target(y, len(X), self.is_classifier)
        w = check_weight(sample_weight, len(X))
        self.encoder_ = self._make_encoder().fit(X)
        ev = None
        if eval_set is not None:
            if not (isinstance(eval_set, (tuple, list)) and len(eval_set) == 2):
                raise ValidationError("eval_set must be a pair (X_val, y_val)")
            Xv = self.encoder_.check_columns(eval_set[0], "eval_set X")
            ev = (Xv, check_target(eval_set[1], len(Xv), self.is_classifier, "eval_set y"))
        self.feature_names_ = self.encoder_.columns_
        self._fit(X[self.feature_names_], yv, w, ev)
        self.fitted_ = True
        return self

    @abstractmethod
    def _fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        sample_weight: np.ndarray | None,
        eval_set: tuple[pd.DataFrame, np.ndarray] | None,
    ) -> None: ...

    # ----------------------------------------------------------------- verbs
    def _checked(self, X: pd.DataFrame) -> pd.DataFrame:
        self._check_fitted()
        X = self.encoder_.check_columns(X)
        return X[self.feature_names_]

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """P(y=1) per row, shape ``(n,)``."""
        if not self.is_classifier:
            raise ValidationError(f"{type(self).__name__} is a regressor: use predict()")
        X = self._checked(X)
        p = np.asarray(self._predict_proba(X), dtype=np.float64)
        if p.shape != (len(X),):
            raise ShopMLError(f"{type(self).__name__}._predict_proba returned shape {p.shape}, expected ({len(X)},)")
        return p

    def predict(self, X: pd.DataFrame, threshold: float = 0.5) -> np.ndarray:
        """Values (regressors) or 0/1 decisions at ``threshold`` on P(y=1) (classifiers).

        For a cost-aware threshold see :func:`shopml.predict.decision.bayes_threshold`.
        """
        if self.is_classifier:
            if not 0 <= threshold <= 1:
                raise ValidationError(f"threshold must be in [0, 1], got {threshold}")
            return (self.predict_proba(X) >= threshold).astype(np.int8)
        X = self._checked(X)
        out = np.asarray(self._predict(X), dtype=np.float64)
        if out.shape != (len(X),):
            raise ShopMLError(f"{type(self).__name__}._predict returned shape {out.shape}")
        return out

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not predict probabilities")

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not predict values")

    def explain(self, X: pd.DataFrame) -> pd.DataFrame:
        """Per-feature attributions per row (raw output scale: log-odds for classifiers).

        Columns: the input features in ``feature_names_`` order, then ``bias``; index: ``X``'s.
        """
        X = self._checked(X)
        contrib = np.asarray(self._explain(X), dtype=np.float64)
        want = (len(X), len(self.feature_names_) + 1)
        if contrib.shape != want:
            raise ShopMLError(f"{type(self).__name__}._explain returned shape {contrib.shape}, expected {want}")
        return pd.DataFrame(contrib, index=X.index, columns=[*self.feature_names_, "bias"])

    @abstractmethod
    def _explain(self, X: pd.DataFrame) -> np.ndarray: ...

    # ----------------------------------------------------------------- persistence
    def _base_meta(self) -> dict[str, Any]:
        return {
            "is_classifier": self.is_classifier,
            "feature_names": list(self.feature_names_),
            "encoder": self.encoder_.to_dict(),
        }

    def _set_base_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.encoder_ = FeatureEncoder.from_dict(meta["encoder"])
        self.feature_names_ = list(meta["feature_names"])

    # ----------------------------------------------------------------- contract test
    @classmethod
    def _contract_example(cls, **params: Any) -> tuple[Predictor, dict, dict]:
        """A tiny fitted instance, good inputs and bad inputs (a missing column) for the generic
        contract test; models with slow defaults pass smaller ``params``."""
        X, y = _toy_frame()
        if not cls.is_classifier:
            y = X["x1"].to_numpy() * 2.0 + 1.0
        params = {k: v for k, v in _SMALL.items() if k in cls().get_params()} | params
        model = cls(**params).fit(X, y)
        return model, {"X": X.head(8)}, {"X": X.head(8).drop(columns=["x1"])}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        X = inputs["X"]
        out = self.predict_proba(X) if self.is_classifier else self.predict(X)
        return {"predict": out, "explain": self.explain(X).to_numpy()}


#: small settings for contract-test instances, used where a model has the parameter
_SMALL: dict[str, Any] = {"epochs": 2, "embedding_dim": 8, "batch_size": 64, "n_estimators": 10}


def _toy_frame(n: int = 200) -> tuple[pd.DataFrame, np.ndarray]:
    """Deterministic rows with a numeric and a categorical signal (for contract tests)."""
    rng = np.random.default_rng(0)
    x1 = rng.normal(size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    logit = 2.0 * x1 + np.where(colour == "red", 1.0, -0.5)
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"x1": x1, "x2": rng.normal(size=n), "colour": colour}), y


def load_predictor(path: str | Path) -> Predictor:
    """Load any saved predictor (the class is read from ``model.json``)."""
    return Predictor.load(path)


__all__ = [
    "EvalSet",
    "Predictor",
    "check_target",
    "check_weight",
    "load_predictor",
    "time_ordered_validation",
]
