"""``Forecaster``: several models on one long frame, as statsforecast users expect.

::

    fc = Forecaster(models=[SeasonalNaive(), AutoETS(), LGBMForecaster()], freq="W")
    fc.fit(df)                                  # unique_id, ds, y (+ exogenous)
    fc.forecast(h=4, level=[80, 95])            # unique_id, ds, AutoETS, AutoETS-lo-80, ...
    fc.cross_validation(h=4, n_windows=5, step_size=1)   # + cutoff, y (on the fitted df)

Wide output as statsforecast's: one column per model named by its ``alias`` (the point
forecast), ``<alias>-lo-<level>`` / ``<alias>-hi-<level>`` and ``<alias>-q<tau>`` for the
quantiles of :data:`~shopml.forecast.base.QUANTILES`. :func:`model_frame` takes one model's
columns back into the contract's long form (``point``, ``q0.1``, ``lo-80`` ...), which is what
metrics, replenishment and pricing read.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import NotFittedError, ValidationError
from shopml.core.progress import make_progress
from shopml.forecast.base import (
    QUANTILES,
    ForecastModel,
    check_frame,
    level_quantiles,
    normalize_freq,
    qcol,
)

__all__ = ["Ensemble", "Forecaster", "model_frame"]


def _clone(m: ForecastModel) -> ForecastModel:
    return type(m)(**m.get_params())


def _levels(level: Sequence[int] | None) -> list[int]:
    out = []
    for lv in level or ():
        lo, hi = level_quantiles(lv)
        if lo not in QUANTILES or hi not in QUANTILES:
            raise ValidationError(f"level {lv} is not on the quantile grid; use 50, 80, 90 or 95")
        out.append(int(lv))
    return out


def _widen(long: pd.DataFrame, alias: str, level: list[int]) -> pd.DataFrame:
    out = long[["unique_id", "ds"]].copy()
    out[alias] = long["point"].to_numpy()
    for lv in level:
        lo, hi = level_quantiles(lv)
        out[f"{alias}-lo-{lv}"] = long[qcol(lo)].to_numpy()
        out[f"{alias}-hi-{lv}"] = long[qcol(hi)].to_numpy()
    for tau in QUANTILES:
        out[f"{alias}-{qcol(tau)}"] = long[qcol(tau)].to_numpy()
    return out


def model_frame(wide: pd.DataFrame, alias: str) -> pd.DataFrame:
    """One model's columns of a wide forecast frame, renamed to the contract's long form."""
    if alias not in wide.columns:
        models = [
            c for c in wide.columns if "-" not in c and c not in ("unique_id", "ds", "y", "cutoff")
        ]
        raise ValidationError(f"no model {alias!r} in the frame; it has {models}")
    keep = [c for c in ("unique_id", "ds", "cutoff", "y") if c in wide.columns]
    out = wide[keep].copy()
    out["point"] = wide[alias].to_numpy()
    pre = f"{alias}-"
    for c in wide.columns:
        if c.startswith(pre):
            out[c[len(pre) :]] = wide[c].to_numpy()
    return out


class Forecaster:
    """Several forecasting models fitted and evaluated together (see the module docstring)."""

    def __init__(self, models: Sequence[ForecastModel], freq: str = "W") -> None:
        if not models:
            raise ValidationError("models is empty: give at least one forecasting model")
        for m in models:
            if not isinstance(m, ForecastModel):
                raise ValidationError(f"{m!r} is not a shopml ForecastModel")
        aliases = [m.alias for m in models]
        dup = sorted({a for a in aliases if aliases.count(a) > 1})
        if dup:
            raise ValidationError(f"two models share the alias {dup}: give each a distinct class")
        self.models = list(models)
        self.freq = normalize_freq(freq)
        self.fit_seconds_: dict[str, float] = {}

    @property
    def aliases(self) -> list[str]:
        return [m.alias for m in self.models]

    def fit(self, df: pd.DataFrame) -> Forecaster:
        """Fit every model on ``df`` (``unique_id, ds, y`` + exogenous columns)."""
        df = check_frame(df)
        self.df_ = df
        with make_progress(transient=True) as bar:
            task = bar.add_task("forecast: fitting", total=len(self.models))
            for m in self.models:
                bar.update(task, description=f"forecast: {m.alias}")
                t0 = time.perf_counter()
                m.fit(df, self.freq)
                self.fit_seconds_[m.alias] = time.perf_counter() - t0
                bar.advance(task)
        self.fitted_ = True
        return self

    def forecast(
        self, h: int, level: Sequence[int] | None = (80, 95), X_df: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        """Every model's forecasts ``h`` periods ahead, wide (statsforecast's columns)."""
        if not getattr(self, "fitted_", False):
            raise NotFittedError("Forecaster is not fitted; call fit() first")
        lv = _levels(level)
        out: pd.DataFrame | None = None
        for m in self.models:
            wide = _widen(m.predict(h, X_df), m.alias, lv)
            out = wide if out is None else out.merge(wide, on=["unique_id", "ds"], how="outer")
        assert out is not None
        return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)

    def cross_validation(
        self,
        h: int,
        df: pd.DataFrame | None = None,
        n_windows: int = 1,
        step_size: int = 1,
        level: Sequence[int] | None = (80, 95),
    ) -> pd.DataFrame:
        """Rolling-origin evaluation: for ``n_windows`` cutoffs ``step_size`` periods apart (the
        last one ``h`` periods before the data's end), fit fresh copies of the models on the
        data up to the cutoff and forecast ``h`` periods; returns the wide forecasts with
        ``cutoff`` and the actual ``y``. Exogenous columns' future values are read from ``df``
        (known in advance: prices, holidays). ``df`` defaults to the frame given to ``fit``."""
        if df is None:
            if not hasattr(self, "df_"):
                raise NotFittedError("pass df, or call fit(df) first")
            df = self.df_
        df = check_frame(df)
        if n_windows < 1 or step_size < 1 or h < 1:
            raise ValidationError("h, n_windows and step_size must be positive")
        off = pd.tseries.frequencies.to_offset(self.freq)
        end = df["ds"].max()
        cutoffs = [end - off * (h + step_size * (n_windows - 1 - i)) for i in range(n_windows)]
        if cutoffs[0] <= df["ds"].min():
            raise ValidationError(
                f"the data ({df['ds'].min().date()}..{end.date()}) is too short for {n_windows} "
                f"windows of h={h} stepping {step_size}"
            )
        lv = _levels(level)
        exog = [c for c in df.columns if c not in ("unique_id", "ds", "y")]
        parts = []
        self.cv_fit_seconds_: dict[str, float] = {m.alias: 0.0 for m in self.models}
        self.cv_predict_seconds_: dict[str, float] = {m.alias: 0.0 for m in self.models}
        with make_progress(transient=True) as bar:
            task = bar.add_task("forecast: cross-validation", total=n_windows * len(self.models))
            for c in cutoffs:
                train = df[df["ds"] <= c]
                future = df[(df["ds"] > c) & (df["ds"] <= c + off * h)]
                X_df = future[["unique_id", "ds", *exog]] if exog else None
                merged = future[["unique_id", "ds", "y"]]
                for m in self.models:
                    bar.update(task, description=f"forecast: {m.alias}, cutoff {c.date()}")
                    fresh = _clone(m)
                    t0 = time.perf_counter()
                    fresh.fit(train, self.freq)
                    t1 = time.perf_counter()
                    pred = fresh.predict(h, X_df)
                    self.cv_fit_seconds_[m.alias] += t1 - t0
                    self.cv_predict_seconds_[m.alias] += time.perf_counter() - t1
                    merged = merged.merge(
                        _widen(pred, m.alias, lv), on=["unique_id", "ds"], how="inner"
                    )
                    bar.advance(task)
                merged.insert(2, "cutoff", c)
                parts.append(merged)
        return pd.concat(parts, ignore_index=True)


class Ensemble(ForecastModel):
    """The average of several models: point forecasts averaged, and quantiles averaged level by
    level (Vincentization), which keeps the spread of the members."""

    alias = "Ensemble"

    def __init__(
        self, models: Sequence[ForecastModel] = (), weights: Sequence[float] | None = None
    ):
        self.models = models
        self.weights = weights

    def _fit(self, df: pd.DataFrame) -> None:
        if not self.models:
            raise ValidationError("Ensemble needs at least one member model")
        self.members_ = [_clone(m).fit(df, self.freq_) for m in self.models]

    def _predict(self, h: int, X_df: pd.DataFrame | None) -> pd.DataFrame:
        w = np.asarray(
            self.weights if self.weights is not None else [1.0] * len(self.members_), float
        )
        if len(w) != len(self.members_) or (w < 0).any() or w.sum() <= 0:
            raise ValidationError("weights must be one non-negative number per member, not all 0")
        w = w / w.sum()
        preds = [m.predict(h, X_df) for m in self.members_]
        base = preds[0][["unique_id", "ds"]].copy()
        for c in ["point", *[qcol(t) for t in QUANTILES]]:
            base[c] = sum(wi * p[c].to_numpy() for wi, p in zip(w, preds, strict=True))
        return base

    def get_params(self) -> dict[str, Any]:
        return {"models": self.models, "weights": self.weights}
