"""The forecasting contract: one base class for every model, in statsforecast's convention.

Input is a long frame ``unique_id, ds, y`` (one row per series and period, regular periods, no
gaps: :func:`shopml.forecast.data.regularize` fills them); any other column is an exogenous
regressor, and then ``predict`` needs its future values in ``X_df`` (``unique_id, ds`` + the same
columns), as in statsforecast.

Every model answers ``predict(h)`` with a long frame ``unique_id, ds, point`` (the point forecast:
the model's mean, or its median where it is trained for absolute error) plus one column per
quantile of :data:`QUANTILES` (``q0.025 .. q0.975``): probabilistic output is the contract, so
that replenishment and pricing can take any forecaster through the same interface. Levels
(``lo-80``, ``hi-95``) are read from those quantiles. Units are demand: forecasts are clipped at
zero and quantiles are sorted (no crossing).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator

__all__ = [
    "FREQS",
    "QUANTILES",
    "ForecastModel",
    "Panel",
    "check_frame",
    "level_quantiles",
    "normalize_freq",
    "qcol",
]

#: the quantile grid every model returns (covers levels 50, 80, 90 and 95)
QUANTILES: tuple[float, ...] = (0.025, 0.05, 0.1, 0.25, 0.5, 0.75, 0.9, 0.95, 0.975)

#: user-facing frequency -> the pandas offset periods are labelled with (weeks start on Monday,
#: months on the 1st: the labels ``date_trunc`` gives in the workspace)
FREQS = {"D": "D", "W": "W-MON", "W-MON": "W-MON", "M": "MS", "MS": "MS"}


def normalize_freq(freq: str) -> str:
    """``W`` -> ``W-MON``, ``M`` -> ``MS``; anything else raises :class:`ValidationError`."""
    if freq not in FREQS:
        raise ValidationError(f"freq {freq!r} is not supported; use one of {sorted(FREQS)}")
    return FREQS[freq]


def qcol(tau: float) -> str:
    """Column name of quantile ``tau``: ``q0.1``."""
    return f"q{tau:g}"


def level_quantiles(level: int | float) -> tuple[float, float]:
    """The quantiles bounding a central ``level``% interval: 80 -> (0.1, 0.9)."""
    if not 0 < level < 100:
        raise ValidationError(f"level must lie in (0, 100), got {level}")
    a = (100 - level) / 200
    return round(a, 6), round(1 - a, 6)


def check_frame(df: Any, what: str = "df", need_y: bool = True) -> pd.DataFrame:
    """Validate a long frame (``unique_id, ds[, y]``) and return it sorted with typed columns."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"{what} must be a pandas DataFrame, got {type(df).__name__}")
    need = ["unique_id", "ds"] + (["y"] if need_y else [])
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValidationError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")
    if df.empty:
        raise ValidationError(f"{what} is empty")
    out = df.copy()
    out["unique_id"] = out["unique_id"].astype(str)
    try:
        out["ds"] = pd.to_datetime(out["ds"])
    except (ValueError, TypeError) as e:
        raise ValidationError(f"{what}.ds is not a date column: {e}") from None
    if getattr(out["ds"].dt, "tz", None) is not None:
        out["ds"] = out["ds"].dt.tz_convert(None)
    if need_y:
        y = pd.to_numeric(out["y"], errors="coerce")
        if y.isna().any() or not np.isfinite(y.to_numpy(float)).all():
            raise ValidationError(
                f"{what}.y has {int(y.isna().sum())} missing or non-numeric values"
            )
        if (y < 0).any():
            raise ValidationError(f"{what}.y has negative values: demand must be >= 0")
        out["y"] = y.astype(float)
    if out.duplicated(["unique_id", "ds"]).any():
        raise ValidationError(f"{what} has duplicate (unique_id, ds) rows")
    return out.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


class Panel:
    """Series on one shared time grid: ``Y[n_series, T]`` (NaN before a series starts and after
    it ends), exogenous arrays on the same grid, and each series' last observed index.

    The global models (LightGBM, DeepAR) compute their features on this matrix, vectorised over
    series and origins.
    """

    def __init__(self, df: pd.DataFrame, freq: str, exog: tuple[str, ...] = (), extend: int = 0):
        self.freq = freq
        self.ids = np.array(sorted(df["unique_id"].unique()), dtype=str)
        start, end = df["ds"].min(), df["ds"].max()
        self.grid = pd.date_range(start, end, freq=freq)
        if extend:
            self.grid = pd.date_range(start, periods=len(self.grid) + extend, freq=freq)
        pos = self.grid.get_indexer(df["ds"])
        if (pos < 0).any():
            bad = df["ds"][pos < 0].iloc[0]
            raise ValidationError(f"ds {bad} is not on the {freq} grid starting {start.date()}")
        row = np.searchsorted(self.ids, df["unique_id"].to_numpy(str))
        self.row, self.pos = row, pos
        shape = (len(self.ids), len(self.grid))
        self.Y = np.full(shape, np.nan)
        if "y" in df:
            self.Y[row, pos] = df["y"].to_numpy(float)
        self.X = {}
        for c in exog:
            a = np.full(shape, np.nan)
            a[row, pos] = pd.to_numeric(df[c], errors="coerce").to_numpy(float)
            self.X[c] = a
        self.last = np.full(len(self.ids), -1)
        np.maximum.at(self.last, row, pos)
        self.first = np.full(len(self.ids), shape[1])
        np.minimum.at(self.first, row, pos)

    def set_exog(self, X_df: pd.DataFrame, exog: tuple[str, ...]) -> None:
        """Write future exogenous values (``X_df``) onto the grid (it must have been extended)."""
        known = np.isin(X_df["unique_id"].to_numpy(str), self.ids)
        X_df = X_df[known]
        row = np.searchsorted(self.ids, X_df["unique_id"].to_numpy(str))
        pos = self.grid.get_indexer(pd.to_datetime(X_df["ds"]))
        ok = pos >= 0
        for c in exog:
            self.X[c][row[ok], pos[ok]] = pd.to_numeric(X_df[c], errors="coerce").to_numpy(float)[
                ok
            ]


class ForecastModel(Estimator, ABC):
    """Base of every forecaster: ``fit(df, freq)`` then ``predict(h, X_df)``.

    Subclasses set :attr:`alias` (the model's column name in a :class:`~shopml.forecast.Forecaster`
    output, as statsforecast's ``alias``) and implement ``_fit(df)`` and ``_predict(h, X_df)``
    returning ``unique_id, ds, point`` and the :data:`QUANTILES` columns (unclipped; the base
    clips and sorts).
    """

    capability: ClassVar[str] = "forecast"
    alias: ClassVar[str] = "model"
    #: whether the model needs statsforecast (an optional extra)
    needs_statsforecast: ClassVar[bool] = False

    def fit(self, df: pd.DataFrame, freq: str = "W") -> ForecastModel:
        """Fit on the long frame ``df``; columns besides ``unique_id, ds, y`` are exogenous."""
        df = check_frame(df)
        self.freq_ = normalize_freq(freq)
        self.exog_ = tuple(c for c in df.columns if c not in ("unique_id", "ds", "y"))
        grid_ok = _on_grid(df["ds"], self.freq_)
        if not grid_ok:
            raise ValidationError(
                f"df.ds does not fall on the {freq!r} grid ({self.freq_}); aggregate with "
                "shopml.forecast.data.regularize first"
            )
        self.ids_ = np.array(sorted(df["unique_id"].unique()), dtype=str)
        self.last_ds_ = df.groupby("unique_id")["ds"].max().reindex(self.ids_).to_numpy()
        self._fit(df)
        self.fitted_ = True
        return self

    def predict(self, h: int, X_df: pd.DataFrame | None = None) -> pd.DataFrame:
        """Forecast ``h`` periods after each series' last date: ``unique_id, ds, point, q...``."""
        self._check_fitted()
        if not isinstance(h, int | np.integer) or isinstance(h, bool) or h < 1:
            raise ValidationError(f"h must be a positive integer, got {h!r}")
        if self.exog_:
            if X_df is None:
                raise ValidationError(
                    f"the model was fitted with exogenous columns {list(self.exog_)}: pass their "
                    "future values as X_df (unique_id, ds, ...)"
                )
            X_df = check_frame(X_df, "X_df", need_y=False)
            missing = [c for c in self.exog_ if c not in X_df.columns]
            if missing:
                raise ValidationError(f"X_df lacks exogenous column(s) {missing}")
        out = self._predict(int(h), X_df)
        return _tidy(out)

    # contract test ----------------------------------------------------------------------
    @classmethod
    def _contract_example(cls) -> tuple[ForecastModel, dict, dict]:
        """A model fitted on three small weekly series (tiny settings for the slow ones), a good
        horizon and a bad one, for the generic contract test."""
        rng = np.random.default_rng(0)
        weeks = 60
        ds = pd.date_range("2023-01-02", periods=weeks, freq="W-MON")
        t = np.arange(weeks)
        df = pd.DataFrame(
            {
                "unique_id": np.repeat(["a", "b", "c"], weeks),
                "ds": np.tile(ds, 3),
                "y": np.concatenate(
                    [rng.poisson(m * (1.5 + np.sin(2 * np.pi * t / 13))) for m in (2, 5, 9)]
                ).astype(float),
            }
        )
        small = {"epochs": 1, "windows_per_epoch": 64, "hidden_size": 8, "num_layers": 1,
                 "n_estimators": 20, "context_length": 8, "max_horizon": 4}
        params = {k: v for k, v in small.items() if k in cls().get_params()}
        return cls(**params).fit(df, freq="W"), {"h": 3}, {"h": 0}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        out = self.predict(inputs["h"])
        return {c: out[c].to_numpy() for c in out.columns if c not in ("unique_id", "ds")}

    # hooks ------------------------------------------------------------------------------
    @abstractmethod
    def _fit(self, df: pd.DataFrame) -> None: ...

    @abstractmethod
    def _predict(self, h: int, X_df: pd.DataFrame | None) -> pd.DataFrame: ...

    def fitted_params(self) -> dict[str, Any]:
        """JSON-ready fitted parameters worth showing (per series where they exist)."""
        return {}

    def _future_ds(self, h: int) -> tuple[np.ndarray, np.ndarray]:
        """``unique_id`` and ``ds`` columns of the ``h`` periods after each series' end."""
        off = pd.tseries.frequencies.to_offset(self.freq_)
        steps = [pd.DatetimeIndex(self.last_ds_) + off * (k + 1) for k in range(h)]
        ds = np.stack([s.to_numpy() for s in steps], axis=1).ravel()
        return np.repeat(self.ids_, h), ds


def _on_grid(ds: pd.Series, freq: str) -> bool:
    if freq == "W-MON":
        return bool((ds.dt.dayofweek == 0).all() and (ds.dt.normalize() == ds).all())
    if freq == "MS":
        return bool((ds.dt.day == 1).all() and (ds.dt.normalize() == ds).all())
    return bool((ds.dt.normalize() == ds).all())


def _tidy(out: pd.DataFrame) -> pd.DataFrame:
    """Clip at zero, sort quantiles so they never cross, order columns."""
    cols = [qcol(q) for q in QUANTILES]
    missing = [c for c in ["unique_id", "ds", "point", *cols] if c not in out.columns]
    if missing:  # a model bug, not a user error
        raise RuntimeError(f"forecast output lacks {missing}")
    Q = np.sort(np.clip(out[cols].to_numpy(float), 0, None), axis=1)
    mean = np.clip(out["point"].to_numpy(float), 0, None)
    tidy = pd.DataFrame(
        {
            "unique_id": out["unique_id"].astype(str).to_numpy(),
            "ds": pd.to_datetime(out["ds"]).to_numpy(),
            "point": mean,
        }
    )
    for i, c in enumerate(cols):
        tidy[c] = Q[:, i]
    return tidy.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)


def history_state(df: pd.DataFrame, exog: tuple[str, ...]) -> dict[str, np.ndarray]:
    """A long frame as plain arrays (ids as text, dates as int64 ns) for ``arrays.npz``."""
    out = {
        "hist_unique_id": df["unique_id"].to_numpy(str),
        "hist_ds": df["ds"].to_numpy("datetime64[ns]").astype("int64"),
        "hist_y": df["y"].to_numpy(float),
    }
    for c in exog:
        out[f"hist_x_{c}"] = df[c].to_numpy(float)
    return out


def history_from_state(arrays: dict[str, np.ndarray], exog: tuple[str, ...]) -> pd.DataFrame:
    """The frame :func:`history_state` stored."""
    df = pd.DataFrame(
        {
            "unique_id": arrays["hist_unique_id"].astype(str),
            "ds": pd.to_datetime(arrays["hist_ds"].astype("int64")),
            "y": arrays["hist_y"].astype(float),
        }
    )
    for c in exog:
        df[c] = arrays[f"hist_x_{c}"].astype(float)
    return df
