"""Learning to rank: a LightGBM LambdaMART re-ranker, and a relevance regressor beside it.

The re-ranker learns from graded labels grouped by query (lambdarank optimises NDCG directly);
the regressor predicts the relevance value itself, for when a calibrated score is needed (and
for RMSE). Both are estimators (:class:`~shopml.core.estimator.Estimator`) and persist as
LightGBM text (``model.txt``) plus ``model.json``, never pickles.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import lightgbm as lgb
import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator
from shopml.core.persist import atomic_write_text


def _check_frame(X: pd.DataFrame, names: list[str] | None = None) -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame):
        raise ValidationError(f"features must be a pandas DataFrame, got {type(X).__name__}")
    if names is not None:
        missing = [c for c in names if c not in X.columns]
        if missing:
            raise ValidationError(f"features lack columns the model was fitted on: {missing}")
        X = X[names]
    return X.astype(np.float32)


class _LightGBMModel(Estimator):
    """What both LightGBM models share: the fitted check, persistence as LightGBM text."""

    capability: ClassVar[str] = "search"

    def _meta(self) -> dict[str, Any]:
        return {"features": self.feature_names_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.feature_names_ = list(meta["features"])

    def _save_files(self, folder: Path) -> None:
        atomic_write_text(folder / "model.txt", self.booster_.model_to_string())

    def _load_files(self, folder: Path) -> None:
        path = folder / "model.txt"
        if not path.is_file():
            raise ValidationError(f"{folder} lacks model.txt (the LightGBM model)")
        self.booster_ = lgb.Booster(model_str=path.read_text(encoding="utf-8"))

    @classmethod
    def _contract_example(cls) -> tuple[_LightGBMModel, dict, dict]:
        rng = np.random.default_rng(0)
        X = pd.DataFrame({"bm25": rng.random(300), "dense": rng.random(300)})
        grade = np.minimum((3 * X["bm25"] + rng.random(300)).astype(int), 3)
        group = np.repeat(np.arange(30), 10)
        small = {"n_estimators": 10, "min_child_samples": 5}
        if issubclass(cls, LambdaMARTReranker):
            model = cls(max_label=3, **small).fit(X, grade, group)
        else:
            model = cls(**small).fit(X, grade.astype(float))
        return model, {"X": X.head(10)}, {"X": X.head(10).drop(columns=["dense"])}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {"predict": self.predict(inputs["X"])}


class LambdaMARTReranker(_LightGBMModel):
    """LightGBM ``lambdarank`` over per-(query, item) features.

    Parameters
    ----------
    n_estimators, learning_rate, num_leaves, min_child_samples : LightGBM parameters.
    max_label : int
        Labels are integer grades ``0..max_label``; their gains are linear (grade itself).
    eval_at : int
        The NDCG cut-off lambdarank optimises.
    """

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        max_label: int = 6,
        eval_at: int = 10,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.max_label = max_label
        self.eval_at = eval_at
        self.seed = seed
        self.n_jobs = n_jobs

    def _params(self) -> dict:
        return {
            "objective": "lambdarank",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1,
            "feature_fraction": self.colsample_bytree,
            "label_gain": list(range(self.max_label + 1)),
            "lambdarank_truncation_level": max(self.eval_at * 2, 20),
            "eval_at": [self.eval_at],
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }

    def fit(self, X: pd.DataFrame, y: np.ndarray, group: np.ndarray) -> LambdaMARTReranker:
        """Fit on features ``X``, integer grades ``y`` and query codes ``group`` (any order)."""
        X = _check_frame(X)
        y = np.asarray(y)
        group = np.asarray(group)
        if not (len(X) == len(y) == len(group)):
            raise ValidationError(
                f"X, y and group differ in length: {len(X)}, {len(y)}, {len(group)}"
            )
        if len(y) == 0:
            raise ValidationError("LambdaMARTReranker.fit needs at least one labelled pair")
        if y.min() < 0 or y.max() > self.max_label or not np.all(np.equal(np.mod(y, 1), 0)):
            raise ValidationError(f"labels must be integer grades in 0..{self.max_label}")
        order = np.argsort(group, kind="stable")  # LightGBM wants each query's rows together
        sizes = np.unique(group[order], return_counts=True)[1]
        data = lgb.Dataset(X.iloc[order], label=y[order].astype(np.int32), group=sizes)
        self.booster_ = lgb.train(self._params(), data, num_boost_round=self.n_estimators)
        self.feature_names_ = list(X.columns)
        self.fitted_ = True
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Ranking scores (higher is better; comparable within a query)."""
        self._check_fitted()
        return self.booster_.predict(_check_frame(X, self.feature_names_), num_threads=self.n_jobs)

    def feature_importance(self) -> pd.Series:
        """Total gain of each feature's splits, largest first."""
        self._check_fitted()
        imp = self.booster_.feature_importance(importance_type="gain")
        return pd.Series(imp, index=self.feature_names_).sort_values(ascending=False)


class RelevanceRegressor(_LightGBMModel):
    """LightGBM regression of the relevance value from the same features."""

    def __init__(
        self,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 50,
        seed: int = 0,
        n_jobs: int = 1,
    ) -> None:
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.seed = seed
        self.n_jobs = n_jobs

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> RelevanceRegressor:
        """Fit on features ``X`` and relevance values ``y``."""
        X = _check_frame(X)
        y = np.asarray(y, dtype=np.float64)
        if len(X) != len(y) or len(y) == 0:
            raise ValidationError(
                f"X and y must be non-empty and of equal length, got {len(X)}, {len(y)}"
            )
        params = {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "feature_fraction": 0.8,
            "seed": self.seed,
            "num_threads": self.n_jobs,
            "deterministic": True,
            "force_row_wise": True,
            "verbosity": -1,
        }
        self.booster_ = lgb.train(
            params, lgb.Dataset(X, label=y), num_boost_round=self.n_estimators
        )
        self.feature_names_ = list(X.columns)
        self.range_ = (float(y.min()), float(y.max()))
        self.fitted_ = True
        return self

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Predicted relevance, clipped to the range seen in training."""
        self._check_fitted()
        pred = self.booster_.predict(_check_frame(X, self.feature_names_), num_threads=self.n_jobs)
        return np.clip(pred, *self.range_)

    def _meta(self) -> dict[str, Any]:
        return {"features": self.feature_names_, "range": list(self.range_)}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.feature_names_ = list(meta["features"])
        self.range_ = tuple(meta["range"])


def click_labels(
    pairs: pd.DataFrame,
    max_grade: int = 4,
    min_impressions: int = 10,
    column: str = "relevance",
) -> pd.DataFrame:
    """Integer grades ``0..max_grade`` for the re-ranker from a click model's relevance estimates.

    ``pairs`` is a click model's :meth:`~shopml.search.click_models.ClickModel.pair_frame`
    (``query, item, impressions, relevance``). Pairs shown fewer than ``min_impressions`` times
    are dropped (their estimate is mostly the prior). Grades are the quantile bins of relevance
    over all kept pairs, so that a grade means the same in every query and each grade is used.
    """
    need = {"query", "item", "impressions", column}
    if not isinstance(pairs, pd.DataFrame) or not need <= set(pairs.columns):
        raise ValidationError(f"pairs must be a DataFrame with columns {sorted(need)}")
    if max_grade < 1:
        raise ValidationError(f"max_grade must be at least 1, got {max_grade}")
    kept = pairs[pairs["impressions"] >= min_impressions]
    if kept.empty:
        raise ValidationError(f"no pair has {min_impressions} or more impressions")
    rel = kept[column].to_numpy(np.float64)
    # rank-based bins: ties share a grade, and the grades stay ordered like the estimates
    pct = pd.Series(rel).rank(method="average", pct=True).to_numpy()
    grade = np.minimum((pct * (max_grade + 1)).astype(np.int64), max_grade)
    return pd.DataFrame(
        {
            "query": kept["query"].to_numpy(),
            "item": kept["item"].to_numpy(),
            "relevance": rel,
            "grade": grade,
        }
    )
