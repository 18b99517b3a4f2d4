"""Logistic regression (scikit-learn's L2-penalised solver) on the shared feature encoding."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.predict.base import Predictor


class LogisticRegression(Predictor):
    """L2-penalised logistic regression on standardised numeric and one-hot categorical columns.

    Fitted with scikit-learn (``lbfgs``); the coefficients are kept as arrays, so prediction and
    ``load`` need no scikit-learn object. ``explain`` gives exact per-feature log-odds
    contributions (coefficient × encoded value, summed over a categorical column's one-hot
    columns) and the intercept as ``bias``.

    Parameters
    ----------
    C: inverse L2 strength (scikit-learn's ``C``).
    class_weight: ``None`` or ``'balanced'``.
    max_iter: solver iterations.
    numeric, categorical, min_frequency, max_categories: passed to the feature encoder.
    """

    def __init__(
        self,
        C: float = 1.0,
        class_weight: str | None = None,
        max_iter: int = 1000,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        min_frequency: int = 1,
        max_categories: int | None = None,
    ) -> None:
        self.C = C
        self.class_weight = class_weight
        self.max_iter = max_iter
        self.numeric = numeric
        self.categorical = categorical
        self.min_frequency = min_frequency
        self.max_categories = max_categories

    def _fit(self, X, y, sample_weight, eval_set) -> None:
        from sklearn.linear_model import LogisticRegression as SkLR

        if not float(self.C) > 0:
            raise ValidationError(f"C must be > 0, got {self.C}")
        if self.class_weight not in (None, "balanced"):
            raise ValidationError(f"class_weight must be None or 'balanced', got {self.class_weight!r}")
        D, self.owner_ = self.encoder_.design_matrix(X)
        sk = SkLR(C=float(self.C), class_weight=self.class_weight, max_iter=int(self.max_iter), solver="lbfgs")
        sk.fit(D, y.astype(int), sample_weight=sample_weight)
        self.coef_ = sk.coef_.ravel().astype(np.float64)
        self.intercept_ = float(sk.intercept_[0])
        self.n_iter_ = int(np.max(sk.n_iter_))

    def _logit(self, X: pd.DataFrame) -> np.ndarray:
        D, _ = self.encoder_.design_matrix(X)
        return D @ self.coef_ + self.intercept_

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._logit(X)))

    def _explain(self, X: pd.DataFrame) -> np.ndarray:
        D, owner = self.encoder_.design_matrix(X)
        per_col = D.multiply(self.coef_[None, :]).tocsc()
        # sum design columns back into their input feature: a (d_design × n_features) 0/1 matrix
        import scipy.sparse as sp

        k = len(self.feature_names_)  # == encoder_.columns_, which ``owner`` indexes
        S = sp.csr_matrix((np.ones(len(owner)), (np.arange(len(owner)), owner)), shape=(len(owner), k))
        out = np.zeros((D.shape[0], k + 1))
        out[:, :k] = np.asarray((per_col @ S).todense())
        out[:, k] = self.intercept_
        return out

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"coef": self.coef_, "intercept": np.array([self.intercept_]), "owner": self.owner_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.coef_ = arrays["coef"].astype(np.float64)
        self.intercept_ = float(arrays["intercept"][0])
        self.owner_ = arrays["owner"]
        self.n_iter_ = meta.get("n_iter")

    def _meta(self) -> dict[str, Any]:
        return {"n_iter": self.n_iter_}


__all__ = ["LogisticRegression"]
