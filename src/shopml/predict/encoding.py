"""Turn a feature frame into model inputs: numeric columns standardised, categorical columns
as dense codes with an unseen bucket. Every predictor (linear, trees, torch) uses this one layer.

Column kinds are declared (``numeric=[...]``, ``categorical=[...]``) or inferred from dtypes:
numbers and booleans are numeric; object, string and category columns are categorical. Datetime
and other columns are refused with a message naming them (derive numbers from them first).

Numeric columns: missing values are replaced by the training mean, and a column that had missing
values in training gets a 0/1 ``<name>__missing`` indicator; then ``(x - mean) / std``.

Categorical columns: a :class:`shopml.core.vocab.Vocab` per column of the values seen at least
``min_frequency`` times in training (at most ``max_categories``, most frequent first). Codes are
``1..V`` for known values and ``0`` for anything else (unseen, rare or missing), so an embedding
table of ``V + 1`` rows (see :attr:`FeatureEncoder.cardinalities`) never meets an index it lacks.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.vocab import Vocab

UNSEEN = 0  # the code of unseen, rare and missing categorical values


@dataclass
class Encoded:
    """A batch of encoded rows: ``numeric`` float32 (n, d_num), ``categorical`` int64 (n, n_cat)."""

    numeric: np.ndarray
    categorical: np.ndarray

    def __len__(self) -> int:
        return int(self.numeric.shape[0])


def check_frame(X: Any, name: str = "X") -> pd.DataFrame:
    """``X`` must be a non-empty DataFrame with unique string column names."""
    if not isinstance(X, pd.DataFrame):
        raise ValidationError(f"{name} must be a pandas DataFrame of features, got {type(X).__name__}")
    if len(X) == 0:
        raise ValidationError(f"{name} has no rows")
    if X.shape[1] == 0:
        raise ValidationError(f"{name} has no columns")
    dup = X.columns[X.columns.duplicated()].tolist()
    if dup:
        raise ValidationError(f"{name} has duplicate column name(s) {dup}")
    bad = [c for c in X.columns if not isinstance(c, str)]
    if bad:
        raise ValidationError(f"{name} column names must be strings, got {bad[:5]}")
    return X


def _is_numeric(s: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(s) or (
        pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_complex_dtype(s)
    )


def _is_categorical(s: pd.Series) -> bool:
    return (
        isinstance(s.dtype, pd.CategoricalDtype)
        or pd.api.types.is_object_dtype(s)
        or pd.api.types.is_string_dtype(s)
    )


class FeatureEncoder:
    """Learn column kinds, means, scales and vocabularies from training rows; encode any rows.

    Parameters
    ----------
    numeric, categorical:
        Column names of each kind; ``None`` infers from dtypes (see the module docstring).
        When one is given and the other is ``None``, the other holds the remaining columns.
    standardize:
        Scale numeric columns to zero mean and unit variance (constant columns: scale 1).
    min_frequency:
        Categorical values seen fewer times in training go to the unseen bucket.
    max_categories:
        Keep at most this many values per categorical column (most frequent first).
    """

    def __init__(
        self,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        standardize: bool = True,
        min_frequency: int = 1,
        max_categories: int | None = None,
    ) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.standardize = standardize
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    # ------------------------------------------------------------------ fit
    def fit(self, X: pd.DataFrame) -> FeatureEncoder:
        """Learn kinds, means, scales and vocabularies from ``X``."""
        X = check_frame(X)
        if int(self.min_frequency) < 1:
            raise ValidationError(f"min_frequency must be >= 1, got {self.min_frequency}")
        if self.max_categories is not None and int(self.max_categories) < 1:
            raise ValidationError(f"max_categories must be >= 1 or None, got {self.max_categories}")
        num, cat = self._kinds(X)
        self.numeric_ = num
        self.categorical_ = cat
        self.input_columns_ = [c for c in X.columns if c in num or c in cat]
        values = X[num].astype(np.float64).to_numpy() if num else np.empty((len(X), 0))
        if np.isinf(values).any():
            cols = [c for c, bad in zip(num, np.isinf(values).any(axis=0), strict=True) if bad]
            raise ValidationError(f"numeric column(s) {cols} hold infinite values")
        missing = np.isnan(values).any(axis=0)
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-missing columns: mean 0, scale 1
            mean = np.where(np.isnan(values).all(axis=0), 0.0, np.nanmean(values, axis=0)) if num else np.empty(0)
            std = np.nanstd(values, axis=0) if num else np.empty(0)
        std = np.where(np.isfinite(std) & (std > 1e-12), std, 1.0)
        self.mean_ = np.nan_to_num(mean).astype(np.float64)
        self.scale_ = std.astype(np.float64) if self.standardize else np.ones(len(num))
        self.missing_indicators_ = [c for c, m in zip(num, missing, strict=True) if m]
        self.vocabs_ = {c: self._vocab(X[c]) for c in cat}
        return self

    def _kinds(self, X: pd.DataFrame) -> tuple[list[str], list[str]]:
        cols = list(X.columns)
        for name, given in (("numeric", self.numeric), ("categorical", self.categorical)):
            if given is not None:
                unknown = [c for c in given if c not in cols]
                if unknown:
                    raise ValidationError(f"{name} column(s) {unknown} are not in X; columns are {cols}")
        if self.numeric is not None and self.categorical is not None:
            both = sorted(set(self.numeric) & set(self.categorical))
            if both:
                raise ValidationError(f"column(s) {both} are declared both numeric and categorical")
            num, cat = list(self.numeric), list(self.categorical)
            rest = [c for c in cols if c not in num and c not in cat]
            if rest:
                raise ValidationError(f"column(s) {rest} are declared neither numeric nor categorical")
        elif self.numeric is not None:
            num = list(self.numeric)
            cat = [c for c in cols if c not in num]
        elif self.categorical is not None:
            cat = list(self.categorical)
            num = [c for c in cols if c not in cat]
        else:
            num = [c for c in cols if _is_numeric(X[c])]
            cat = [c for c in cols if c not in num and _is_categorical(X[c])]
            other = [f"{c} ({X[c].dtype})" for c in cols if c not in num and c not in cat]
            if other:
                raise ValidationError(
                    f"column(s) {other} are neither numeric nor categorical; derive numbers from "
                    "them (e.g. hour of day, age in days) or declare them"
                )
        not_num = [c for c in num if not _is_numeric(X[c])]
        if not_num:
            raise ValidationError(
                f"numeric column(s) {not_num} do not hold numbers (dtypes {[str(X[c].dtype) for c in not_num]})"
            )
        # keep the frame's column order
        return [c for c in cols if c in num], [c for c in cols if c in cat]

    def _vocab(self, s: pd.Series) -> Vocab:
        counts = s.dropna().astype(str).value_counts(sort=True)
        counts = counts[counts >= int(self.min_frequency)]
        if self.max_categories is not None:
            counts = counts.iloc[: int(self.max_categories)]
        return Vocab(counts.index.to_numpy(dtype=object))

    # ------------------------------------------------------------------ encode
    def _check_fitted(self) -> None:
        if not hasattr(self, "mean_"):
            raise NotFittedError("FeatureEncoder is not fitted; call fit() first")

    @property
    def columns_(self) -> list[str]:
        """The input columns, in the training frame's order."""
        self._check_fitted()
        return list(self.input_columns_)

    @property
    def numeric_names(self) -> list[str]:
        """Names of the columns of :attr:`Encoded.numeric` (numeric columns, then indicators)."""
        self._check_fitted()
        return self.numeric_ + [f"{c}__missing" for c in self.missing_indicators_]

    @property
    def cardinalities(self) -> list[int]:
        """Embedding table sizes per categorical column: known values + the unseen bucket."""
        self._check_fitted()
        return [len(self.vocabs_[c]) + 1 for c in self.categorical_]

    def check_columns(self, X: pd.DataFrame, name: str = "X") -> pd.DataFrame:
        """``X`` must hold every training column (extra columns are ignored)."""
        X = check_frame(X, name)
        missing = [c for c in self.columns_ if c not in X.columns]
        if missing:
            raise ValidationError(f"{name} lacks feature column(s) {missing}; the model was fitted on {self.columns_}")
        bad = [c for c in self.numeric_ if not _is_numeric(X[c])]
        if bad:
            raise ValidationError(
                f"{name}: numeric column(s) {bad} do not hold numbers (dtypes {[str(X[c].dtype) for c in bad]})"
            )
        return X

    def transform(self, X: pd.DataFrame) -> Encoded:
        """Encode rows: standardised numeric block (+ missing indicators) and categorical codes."""
        self._check_fitted()
        X = self.check_columns(X)
        n = len(X)
        if self.numeric_:
            raw = X[self.numeric_].astype(np.float64).to_numpy()
            if np.isinf(raw).any():
                cols = [c for c, b in zip(self.numeric_, np.isinf(raw).any(axis=0), strict=True) if b]
                raise ValidationError(f"numeric column(s) {cols} hold infinite values")
            isnan = np.isnan(raw)
            filled = np.where(isnan, self.mean_, raw)
            num = (filled - self.mean_) / self.scale_
            if self.missing_indicators_:
                pos = [self.numeric_.index(c) for c in self.missing_indicators_]
                num = np.hstack([num, isnan[:, pos].astype(np.float64)])
        else:
            num = np.empty((n, 0))
        cat = np.empty((n, len(self.categorical_)), dtype=np.int64)
        for j, c in enumerate(self.categorical_):
            s = X[c]
            codes = self.vocabs_[c].encode(s.astype(str).to_numpy(dtype=object), strict=False).astype(np.int64) + 1
            codes[s.isna().to_numpy()] = UNSEEN
            cat[:, j] = codes
        return Encoded(num.astype(np.float32), cat)

    def design_matrix(self, X: pd.DataFrame | Encoded) -> tuple[sp.csr_matrix, np.ndarray]:
        """Numeric block plus one-hot categorical columns (the unseen bucket gets no column),
        as CSR; also the index of the input column (in :attr:`columns_`) each column came from,
        so per-column contributions sum back to features (``explain`` of linear models)."""
        enc = X if isinstance(X, Encoded) else self.transform(X)
        n = len(enc)
        blocks = [sp.csr_matrix(enc.numeric.astype(np.float64))]
        pos = {c: i for i, c in enumerate(self.input_columns_)}
        owner = [pos[c] for c in self.numeric_] + [pos[c] for c in self.missing_indicators_]
        for j, c in enumerate(self.categorical_):
            v = len(self.vocabs_[c])
            codes = enc.categorical[:, j]
            known = codes > 0
            rows = np.flatnonzero(known)
            blocks.append(
                sp.csr_matrix((np.ones(len(rows)), (rows, codes[known] - 1)), shape=(n, v))
            )
            owner += [pos[c]] * v
        return sp.hstack(blocks, format="csr"), np.asarray(owner, dtype=np.int64)

    # ------------------------------------------------------------------ persistence
    def to_dict(self) -> dict[str, Any]:
        """JSON-safe state (params and what was learned)."""
        self._check_fitted()
        return {
            "params": {
                "numeric": list(self.numeric) if self.numeric is not None else None,
                "categorical": list(self.categorical) if self.categorical is not None else None,
                "standardize": self.standardize,
                "min_frequency": self.min_frequency,
                "max_categories": self.max_categories,
            },
            "columns": self.input_columns_,
            "numeric": self.numeric_,
            "categorical": self.categorical_,
            "mean": self.mean_.tolist(),
            "scale": self.scale_.tolist(),
            "missing_indicators": self.missing_indicators_,
            "vocabs": {c: self.vocabs_[c].ids.tolist() for c in self.categorical_},
        }

    @classmethod
    def from_dict(cls, state: dict[str, Any]) -> FeatureEncoder:
        """Rebuild an encoder from :meth:`to_dict`."""
        enc = cls(**state["params"])
        enc.numeric_ = list(state["numeric"])
        enc.categorical_ = list(state["categorical"])
        enc.input_columns_ = list(state["columns"])
        enc.mean_ = np.asarray(state["mean"], dtype=np.float64)
        enc.scale_ = np.asarray(state["scale"], dtype=np.float64)
        enc.missing_indicators_ = list(state["missing_indicators"])
        enc.vocabs_ = {c: Vocab(state["vocabs"][c]) for c in enc.categorical_}
        return enc


__all__ = ["UNSEEN", "Encoded", "FeatureEncoder", "check_frame"]
