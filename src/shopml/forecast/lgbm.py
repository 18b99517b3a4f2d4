"""A global LightGBM forecaster (the M5 winners' recipe): one model over every series, trained
on lags, rolling statistics, calendar, price and exogenous features, with quantile outputs.

Direct multi-step: each training row is a (series, origin, step) with the features seen at the
origin (:mod:`shopml.forecast.features`) and the target ``y[origin + step]`` divided by the
series' scale, so one model forecasts every step without feeding its own forecasts back. One
LightGBM per quantile of :data:`~shopml.forecast.base.QUANTILES` (quantile loss); the point
forecast is the median model (``point='median'``, what absolute-error metrics reward) or an L2
model of the mean (``point='mean'``). Rows are weighted by the series' scale, so the loss is
the absolute error in units (what WAPE measures) rather than in scaled units.

The number of boosting rounds is chosen by early stopping of the median model on the last
``max_horizon`` periods of the training data (a validation part of the training data, never
the test part); every model is then refitted on all rows with that many rounds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_text
from shopml.forecast.base import (
    QUANTILES,
    ForecastModel,
    Panel,
    history_from_state,
    history_state,
    qcol,
)
from shopml.forecast.features import PanelStats, training_rows

__all__ = ["LGBMForecaster"]


class LGBMForecaster(ForecastModel):
    """Global LightGBM with quantile outputs (see the module docstring)."""

    alias: ClassVar[str] = "LightGBM"

    def __init__(
        self,
        max_horizon: int = 8,
        lags: tuple[int, ...] = (1, 2, 3, 4, 6, 8, 13),
        windows: tuple[int, ...] = (4, 8, 13, 26),
        n_estimators: int = 400,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        min_child_samples: int = 20,
        subsample: float = 0.8,
        colsample_bytree: float = 0.8,
        min_history: int = 4,
        point: Literal["median", "mean"] = "median",
        early_stopping_rounds: int = 50,
        n_jobs: int = 1,
        seed: int = 0,
    ) -> None:
        self.max_horizon = max_horizon
        self.lags = lags
        self.windows = windows
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.subsample = subsample
        self.colsample_bytree = colsample_bytree
        self.min_history = min_history
        self.point = point
        self.early_stopping_rounds = early_stopping_rounds
        self.n_jobs = n_jobs
        self.seed = seed

    def _lgb_params(self, objective: str, alpha: float | None = None) -> dict[str, Any]:
        p = {
            "objective": objective,
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_data_in_leaf": self.min_child_samples,
            "bagging_fraction": self.subsample,
            "bagging_freq": 1 if self.subsample < 1 else 0,
            "feature_fraction": self.colsample_bytree,
            "num_threads": self.n_jobs,
            "seed": self.seed,
            "verbosity": -1,
            "deterministic": True,
        }
        if alpha is not None:
            p["alpha"] = alpha
        return p

    def _fit(self, df: pd.DataFrame) -> None:
        import lightgbm as lgb

        if self.point not in ("median", "mean"):
            raise ValidationError(f"point must be 'median' or 'mean', got {self.point!r}")
        if int(self.max_horizon) < 1:
            raise ValidationError(f"max_horizon must be >= 1, got {self.max_horizon}")
        self.lags, self.windows = tuple(self.lags), tuple(self.windows)
        self.history_ = df[["unique_id", "ds", "y", *self.exog_]].reset_index(drop=True)
        panel = Panel(df, self.freq_, self.exog_)
        stats = PanelStats(panel)
        s, o, k = training_rows(panel, self.max_horizon, self.min_history)
        if len(s) < 50:
            raise ValidationError(
                f"only {len(s)} training rows: the series are too short for LightGBM "
                f"(need > {self.min_history + 1} periods each)"
            )
        X, scale = stats.design(s, o, k, self.lags, self.windows, self.exog_)
        y = panel.Y[s, o + k] / scale
        target = o + k
        val = target > panel.last[s] - self.max_horizon
        self.feature_names_ = list(X.columns)
        # early stopping of the median model on the last max_horizon periods
        rounds = self.n_estimators
        if val.any() and (~val).sum() >= 50:
            dtr = lgb.Dataset(X[~val], y[~val], weight=scale[~val], free_raw_data=False)
            dva = lgb.Dataset(X[val], y[val], weight=scale[val], reference=dtr)
            b = lgb.train(
                self._lgb_params("quantile", 0.5),
                dtr,
                num_boost_round=self.n_estimators,
                valid_sets=[dva],
                callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)],
            )
            rounds = max(int(b.best_iteration or self.n_estimators), 10)
        self.n_rounds_ = rounds
        full = lgb.Dataset(X, y, weight=scale, free_raw_data=False)
        self.boosters_: dict[str, Any] = {}
        for tau in QUANTILES:
            self.boosters_[qcol(tau)] = lgb.train(self._lgb_params("quantile", tau), full, rounds)
        if self.point == "mean":
            self.boosters_["mean"] = lgb.train(self._lgb_params("regression"), full, rounds)

    def _predict(self, h: int, X_df: pd.DataFrame | None) -> pd.DataFrame:
        if h > self.max_horizon:
            raise ValidationError(
                f"h={h} exceeds max_horizon={self.max_horizon} this model was trained for"
            )
        hist = self.history_
        panel = Panel(hist, self.freq_, self.exog_, extend=h)
        if self.exog_ and X_df is not None:
            panel.set_exog(X_df, self.exog_)
        stats = PanelStats(panel)
        S = len(panel.ids)
        s = np.repeat(np.arange(S), h)
        o = np.repeat(panel.last, h)
        k = np.tile(np.arange(1, h + 1), S)
        X, scale = stats.design(s, o, k, self.lags, self.windows, self.exog_)
        out = pd.DataFrame({"unique_id": panel.ids[s], "ds": panel.grid[o + k]})
        for name, b in self.boosters_.items():
            out[name] = b.predict(X[self.feature_names_]) * scale
        out["point"] = out["mean"] if self.point == "mean" else out[qcol(0.5)]
        return out

    def feature_importance(self) -> pd.Series:
        """Gain of each feature in the median model."""
        self._check_fitted()
        b = self.boosters_[qcol(0.5)]
        return pd.Series(b.feature_importance("gain"), index=self.feature_names_).sort_values(
            ascending=False
        )

    def fitted_params(self) -> dict[str, Any]:
        return {"n_rounds": self.n_rounds_, "features": self.feature_names_}

    # persistence: boosters as LightGBM text, the history as arrays ------------------------
    def _get_state(self) -> dict[str, np.ndarray]:
        return history_state(self.history_, self.exog_)

    def _meta(self) -> dict[str, Any]:
        return {
            "freq": self.freq_,
            "exog": list(self.exog_),
            "features": self.feature_names_,
            "n_rounds": self.n_rounds_,
            "boosters": sorted(self.boosters_),
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.freq_, self.exog_ = meta["freq"], tuple(meta["exog"])
        self.feature_names_, self.n_rounds_ = meta["features"], meta["n_rounds"]
        self._booster_names = meta["boosters"]
        self.lags, self.windows = tuple(self.lags), tuple(self.windows)
        self.history_ = history_from_state(arrays, self.exog_)
        self.ids_ = np.array(sorted(self.history_["unique_id"].unique()), dtype=str)
        self.last_ds_ = self.history_.groupby("unique_id")["ds"].max().reindex(self.ids_).to_numpy()

    def _save_files(self, folder: Path) -> None:
        for name, b in self.boosters_.items():
            atomic_write_text(folder / f"lgbm_{name}.txt", b.model_to_string())

    def _load_files(self, folder: Path) -> None:
        import lightgbm as lgb

        self.boosters_ = {
            name: lgb.Booster(model_str=(folder / f"lgbm_{name}.txt").read_text())
            for name in self._booster_names
        }
