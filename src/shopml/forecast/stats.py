"""The statistical baselines, taken from statsforecast (not rewritten): seasonal naive, AutoETS,
AutoTheta, Croston (optimised) and TSB for intermittent demand.

Each wrapper keeps the training history (statistical models are cheap to refit, and
statsforecast persists with pickle, which shopml never loads) and runs statsforecast at
``predict``; the registry stores their forecasts and fitted parameters instead
(:mod:`shopml.forecast.train`). Quantiles come from statsforecast's intervals at levels 50, 80,
90 and 95 (median = the point forecast, which these models make symmetric). Croston and TSB
have no intervals of their own: statsforecast's conformal intervals (2 windows of the
forecast horizon) give them where every series is long enough, else a Poisson around the point
forecast (the textbook distribution of intermittent counts), said in :attr:`interval_method_`.

statsforecast compiles with numba on first use; ``NUMBA_CACHE_DIR`` defaults to
``~/.cache/shopml/numba`` so the compilation is paid once per machine.
"""

from __future__ import annotations

import os
from abc import abstractmethod
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shopml.core.errors import ShopMLError
from shopml.forecast.base import (
    QUANTILES,
    ForecastModel,
    history_from_state,
    history_state,
    qcol,
)

__all__ = [
    "STAT_MODELS",
    "AutoETS",
    "AutoTheta",
    "CrostonOptimized",
    "SeasonalNaive",
    "StatsModel",
    "TSB",
]

_LEVELS = (50, 80, 90, 95)


def _statsforecast():
    os.environ.setdefault("NUMBA_CACHE_DIR", str(Path.home() / ".cache" / "shopml" / "numba"))
    try:
        import statsforecast
        import statsforecast.models
        import statsforecast.utils
    except ImportError as e:  # pragma: no cover - the extra is missing
        raise ShopMLError(
            "the statistical forecasters need statsforecast: pip install 'shopml[forecast]'"
        ) from e
    return statsforecast


class StatsModel(ForecastModel):
    """A statsforecast model behind shopml's contract (subclasses name the model)."""

    needs_statsforecast: ClassVar[bool] = True
    native_intervals: ClassVar[bool] = True

    @abstractmethod
    def _sf_model(self) -> Any:
        """The statsforecast model object this wrapper fits."""

    # the history is the state: y per series on its own dates
    def _fit(self, df: pd.DataFrame) -> None:
        # univariate models: exogenous columns are ignored (and not needed at predict)
        self.exog_ = ()
        self.history_ = df[["unique_id", "ds", "y"]].reset_index(drop=True)
        self.params_: dict[str, Any] = {}
        self.interval_method_ = "statsforecast" if self.native_intervals else ""

    def _get_state(self) -> dict[str, np.ndarray]:
        return history_state(self.history_, ())

    def _meta(self) -> dict[str, Any]:
        return {
            "freq": self.freq_,
            "exog": list(self.exog_),
            "params": self.params_,
            "interval_method": self.interval_method_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.history_ = history_from_state(arrays, ())
        self.freq_, self.exog_ = meta["freq"], tuple(meta["exog"])
        self.params_ = meta.get("params", {})
        self.interval_method_ = meta.get("interval_method", "")
        self.ids_ = np.array(sorted(self.history_["unique_id"].unique()), dtype=str)
        self.last_ds_ = self.history_.groupby("unique_id")["ds"].max().reindex(self.ids_).to_numpy()

    def fitted_params(self) -> dict[str, Any]:
        return dict(self.params_)

    def _predict(self, h: int, X_df: pd.DataFrame | None) -> pd.DataFrame:
        sf = _statsforecast()
        hist = self.history_
        if self.native_intervals:
            return self._run(sf, hist, h, conformal=False)
        lengths = hist.groupby("unique_id").size()
        need = 2 * h + 1  # statsforecast's conformal windows need that many points
        long_ids = lengths.index[lengths >= need]
        parts = []
        if len(long_ids):
            parts.append(self._run(sf, hist[hist["unique_id"].isin(long_ids)], h, conformal=True))
        if len(long_ids) < len(lengths):
            short = hist[~hist["unique_id"].isin(long_ids)]
            parts.append(_poisson(self._run(sf, short, h, conformal=None)))
        self.interval_method_ = (
            "conformal (statsforecast, 2 windows)"
            if len(long_ids) == len(lengths)
            else f"conformal; Poisson for {len(lengths) - len(long_ids)} series shorter than {need}"
        )
        return pd.concat(parts, ignore_index=True)

    def _run(self, sf: Any, hist: pd.DataFrame, h: int, conformal: bool | None) -> pd.DataFrame:
        model = self._sf_model()
        if conformal:
            model.prediction_intervals = sf.utils.ConformalIntervals(h=h, n_windows=2)
        engine = sf.StatsForecast(
            models=[model],
            freq=self.freq_,
            n_jobs=1,
            fallback_model=sf.models.Naive() if self.native_intervals else None,
        )
        level = list(_LEVELS) if (self.native_intervals or conformal) else None
        engine.fit(df=hist)
        fc = engine.predict(h=h, level=level)
        self._collect_params(engine)
        alias = model.alias
        out = pd.DataFrame(
            {
                "unique_id": fc["unique_id"].astype(str),
                "ds": fc["ds"],
                "point": fc[alias].to_numpy(float),
            }
        )
        for tau in QUANTILES:
            if level is None:
                out[qcol(tau)] = out["point"]
                continue
            lv = round(abs(1 - 2 * tau) * 100)
            if lv == 0:
                out[qcol(tau)] = out["point"]
            else:
                side = "lo" if tau < 0.5 else "hi"
                out[qcol(tau)] = fc[f"{alias}-{side}-{lv}"].to_numpy(float)
        return out

    def _collect_params(self, engine: Any) -> None:
        """Fitted parameters statsforecast exposes (ETS components and smoothing weights)."""
        fitted = getattr(engine, "fitted_", None)
        if fitted is None:
            return
        ids = engine.uids if hasattr(engine, "uids") else []
        for uid, m in zip(list(ids), fitted[:, 0], strict=False):
            info = getattr(m, "model_", None)
            if not isinstance(info, dict):
                continue
            p: dict[str, Any] = {}
            for key in ("method", "components"):
                v = info.get(key)
                if isinstance(v, str):
                    p[key] = v
                elif isinstance(v, list | tuple | np.ndarray):
                    p[key] = [str(x) for x in v]
            par = info.get("par")
            if isinstance(par, dict):
                p["par"] = {k: float(v) for k, v in par.items() if _finite(v)}
            elif isinstance(par, np.ndarray):
                p["par"] = [float(v) for v in par.ravel()[:8] if _finite(v)]
            for key in ("theta", "alpha", "beta", "gamma", "phi"):
                v = info.get(key)
                if _finite(v):
                    p[key] = float(v)
            if p:
                self.params_[str(uid)] = p


def _finite(v: Any) -> bool:
    return isinstance(v, int | float | np.floating) and bool(np.isfinite(v))


def _poisson(out: pd.DataFrame) -> pd.DataFrame:
    from scipy.stats import poisson

    mu = np.clip(out["point"].to_numpy(float), 1e-9, None)
    for tau in QUANTILES:
        out[qcol(tau)] = poisson.ppf(tau, mu)
    return out


class SeasonalNaive(StatsModel):
    """The value one season ago (``season_length=1``: the last value)."""

    alias: ClassVar[str] = "SeasonalNaive"

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    def _sf_model(self) -> Any:
        return _statsforecast().models.SeasonalNaive(season_length=self.season_length)


class AutoETS(StatsModel):
    """Exponential smoothing with the error, trend and season chosen by AICc (statsforecast)."""

    alias: ClassVar[str] = "AutoETS"

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    def _sf_model(self) -> Any:
        return _statsforecast().models.AutoETS(season_length=self.season_length)


class AutoTheta(StatsModel):
    """Theta method variants chosen by in-sample fit (statsforecast)."""

    alias: ClassVar[str] = "AutoTheta"

    def __init__(self, season_length: int = 1) -> None:
        self.season_length = season_length

    def _sf_model(self) -> Any:
        return _statsforecast().models.AutoTheta(season_length=self.season_length)


class CrostonOptimized(StatsModel):
    """Croston's method for intermittent demand with optimised smoothing (statsforecast)."""

    alias: ClassVar[str] = "CrostonOptimized"
    native_intervals: ClassVar[bool] = False

    def __init__(self) -> None:
        pass

    def _sf_model(self) -> Any:
        return _statsforecast().models.CrostonOptimized()


class TSB(StatsModel):
    """Teunter-Syntetos-Babai: demand size and probability smoothed apart (statsforecast)."""

    alias: ClassVar[str] = "TSB"
    native_intervals: ClassVar[bool] = False

    def __init__(self, alpha_d: float = 0.1, alpha_p: float = 0.1) -> None:
        self.alpha_d = alpha_d
        self.alpha_p = alpha_p

    def _sf_model(self) -> Any:
        return _statsforecast().models.TSB(alpha_d=self.alpha_d, alpha_p=self.alpha_p)


STAT_MODELS: dict[str, type[StatsModel]] = {
    "seasonal_naive": SeasonalNaive,
    "auto_ets": AutoETS,
    "auto_theta": AutoTheta,
    "croston": CrostonOptimized,
    "tsb": TSB,
}
