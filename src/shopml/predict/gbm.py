"""LightGBM gradient-boosted trees behind the predictor contract (classifier and regressor).

Numeric columns go in raw (trees need no scaling, and LightGBM routes missing values itself);
categorical columns go in as the encoder's codes, declared categorical to LightGBM, so unseen
values share the code 0. ``explain`` returns LightGBM's exact TreeSHAP contributions
(``pred_contrib``): per feature on the raw scale (log-odds for the classifier), ``bias`` the
expected value. The model is saved as LightGBM's own text format.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_text
from shopml.predict.base import Predictor, time_ordered_validation


class LightGBMClassifier(Predictor):
    """Gradient-boosted trees (binary log loss). Defaults are LightGBM's own.

    With ``early_stopping_rounds``, boosting stops when the validation loss (``eval_set``, else
    the last ``validation_fraction`` of the rows) has not improved for that many rounds.
    """

    objective_default = "binary"

    def __init__(
        self,
        n_estimators: int = 100,
        learning_rate: float = 0.1,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 1.0,
        colsample_bytree: float = 1.0,
        reg_lambda: float = 0.0,
        scale_pos_weight: float = 1.0,
        early_stopping_rounds: int | None = None,
        validation_fraction: float = 0.1,
        objective: str | None = None,
        numeric: Sequence[str] | None = None,
        categorical: Sequence[str] | None = None,
        min_frequency: int = 1,
        max_categories: int | None = None,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.reg_lambda = reg_lambda
        self.scale_pos_weight = scale_pos_weight
        self.early_stopping_rounds = early_stopping_rounds
        self.validation_fraction = validation_fraction
        self.objective = objective
        self.numeric = numeric
        self.categorical = categorical
        self.min_frequency = min_frequency
        self.max_categories = max_categories
        self.seed = seed
        self.n_jobs = n_jobs

    def _matrix(self, X: pd.DataFrame) -> np.ndarray:
        """Raw numeric values (NaN kept) and categorical codes, in ``feature_names_`` order."""
        enc = self.encoder_
        codes = enc.transform(X).categorical
        out = np.empty((len(X), len(self.feature_names_)), dtype=np.float64)
        for j, c in enumerate(self.feature_names_):
            if c in enc.numeric_:
                out[:, j] = X[c].astype(np.float64).to_numpy()
            else:
                out[:, j] = codes[:, enc.categorical_.index(c)]
        return out

    def _lgb_params(self) -> dict[str, Any]:
        if int(self.n_estimators) < 1:
            raise ValidationError(f"n_estimators must be >= 1, got {self.n_estimators}")
        return {
            "objective": self.objective or self.objective_default,
            "learning_rate": float(self.learning_rate),
            "num_leaves": int(self.num_leaves),
            "min_child_samples": int(self.min_child_samples),
            "bagging_fraction": float(self.subsample),
            "bagging_freq": 1 if float(self.subsample) < 1 else 0,
            "feature_fraction": float(self.colsample_bytree),
            "lambda_l2": float(self.reg_lambda),
            **({"scale_pos_weight": float(self.scale_pos_weight)} if self.is_classifier else {}),
            "seed": int(self.seed),
            "num_threads": int(self.n_jobs),
            "deterministic": True,
            "verbose": -1,
        }

    def _fit(self, X, y, sample_weight, eval_set) -> None:
        import lightgbm as lgb

        params = self._lgb_params()
        cat_idx = [j for j, c in enumerate(self.feature_names_) if c in self.encoder_.categorical_]
        Xm = self._matrix(X)
        callbacks = []
        valid_sets = []
        if self.early_stopping_rounds is not None:
            if eval_set is not None:
                Xtr, ytr, wtr = Xm, y, sample_weight
                Xv, yv = self._matrix(eval_set[0]), eval_set[1]
            else:
                tr, va = time_ordered_validation(len(Xm), float(self.validation_fraction))
                Xtr, ytr = Xm[tr], y[tr]
                wtr = None if sample_weight is None else sample_weight[tr]
                Xv, yv = Xm[va], y[va]
            callbacks.append(lgb.early_stopping(int(self.early_stopping_rounds), verbose=False))
        else:
            Xtr, ytr, wtr = Xm, y, sample_weight
        train = lgb.Dataset(Xtr, ytr, weight=wtr, feature_name=self._safe_names(), categorical_feature=cat_idx or "auto", free_raw_data=True)
        if callbacks:
            valid_sets = [lgb.Dataset(Xv, yv, reference=train, categorical_feature=cat_idx or "auto")]
        self.booster_ = lgb.train(params, train, num_boost_round=int(self.n_estimators), valid_sets=valid_sets or None, callbacks=callbacks)
        self.best_iteration_ = int(self.booster_.best_iteration or self.booster_.current_iteration())

    def _safe_names(self) -> list[str]:
        # LightGBM rejects some characters in feature names; positions are what matter
        return [f"f{j}" for j in range(len(self.feature_names_))]

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_, raw_score=True)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._raw(X)))

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_)

    def _explain(self, X: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster_.predict(self._matrix(X), num_iteration=self.best_iteration_, pred_contrib=True))

    def feature_importance(self, kind: str = "gain") -> pd.Series:
        """Total ``'gain'`` or ``'split'`` count per feature."""
        self._check_fitted()
        if kind not in ("gain", "split"):
            raise ValidationError(f"kind must be 'gain' or 'split', got {kind!r}")
        imp = self.booster_.feature_importance(importance_type=kind, iteration=self.best_iteration_)
        return pd.Series(imp, index=self.feature_names_, name=kind).sort_values(ascending=False)

    def _meta(self) -> dict[str, Any]:
        return {"best_iteration": self.best_iteration_}

    def _save_files(self, folder: Path) -> None:
        atomic_write_text(folder / "model.txt", self.booster_.model_to_string())

    def _load_files(self, folder: Path) -> None:
        import lightgbm as lgb

        path = folder / "model.txt"
        if not path.exists():
            raise ValidationError(f"{folder} lacks model.txt (the LightGBM model)")
        self.booster_ = lgb.Booster(model_str=path.read_text(encoding="utf-8"))

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.best_iteration_ = int(meta["best_iteration"])


class LightGBMRegressor(LightGBMClassifier):
    """Gradient-boosted trees for a value (``objective`` default ``'regression'``; e.g.
    ``'poisson'`` for counts). ``explain`` is on the raw scale (log for poisson)."""

    is_classifier = False
    objective_default = "regression"


__all__ = ["LightGBMClassifier", "LightGBMRegressor"]
