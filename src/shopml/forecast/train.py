"""Train and register a forecaster; load what serving needs (no refitting at load).

What is registered under ``forecast/<model>``: ``forecast.parquet`` (per series and horizon
step: ``unique_id, ds, step, point`` and the quantiles ``q0.025 .. q0.975``), ``history.parquet``
(the last periods of each series, for the fan chart against history), ``params.json`` (the
fitted parameters where the model has them: ETS components and smoothing weights, LightGBM's
rounds, DeepAR's best epoch) and, in ``meta.json``, a backtest of the same model over the last
``h`` periods (WAPE, MASE, pinball, coverage). Statistical models are cheap to refit and
statsforecast persists with pickle, which shopml never loads: their forecasts are what is kept.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.core.persist import atomic_write_text
from shopml.forecast.base import QUANTILES, ForecastModel, level_quantiles, qcol

if TYPE_CHECKING:
    from shopml.core.capability import LoadContext
    from shopml.registry import ModelVersion, Registry

__all__ = ["MODELS", "ForecastTable", "load", "make_model", "models", "train"]

HISTORY_PERIODS = 52


def models() -> dict[str, type[ForecastModel]]:
    """Model name -> class (statistical ones need the ``forecast`` extra at fit time)."""
    from shopml.forecast.deepar import DeepARForecaster
    from shopml.forecast.forecaster import Ensemble
    from shopml.forecast.lgbm import LGBMForecaster
    from shopml.forecast.stats import STAT_MODELS

    return {
        **STAT_MODELS,
        "lightgbm": LGBMForecaster,
        "deepar": DeepARForecaster,
        "ensemble": Ensemble,
    }


MODELS = (
    "seasonal_naive",
    "auto_ets",
    "auto_theta",
    "croston",
    "tsb",
    "lightgbm",
    "deepar",
    "ensemble",
)


def make_model(
    name: str, params: dict[str, Any] | None = None, h: int | None = None
) -> ForecastModel:
    """A model by name; global models get ``max_horizon = h`` unless given; ``ensemble`` is the
    average of LightGBM and DeepAR."""
    table = models()
    if name not in table:
        raise ValidationError(f"no forecasting model {name!r}; choose one of {sorted(table)}")
    params = dict(params or {})
    if name == "ensemble":
        members = [
            make_model("lightgbm", params.get("lightgbm"), h),
            make_model("deepar", params.get("deepar"), h),
        ]
        return table[name](models=members)
    if name in ("lightgbm", "deepar") and h is not None:
        params.setdefault("max_horizon", max(int(h), 1))
    try:
        return table[name](**params)
    except TypeError as e:
        raise ValidationError(f"bad parameters for {name}: {e}") from None


class ForecastTable:
    """The registered forecasts of one model, answering per item (what the service keeps)."""

    def __init__(
        self,
        forecast: pd.DataFrame,
        history: pd.DataFrame,
        params: dict[str, Any],
        info: dict[str, Any] | None = None,
    ) -> None:
        self.forecast = forecast.sort_values(["unique_id", "step"], kind="stable").reset_index(
            drop=True
        )
        self.history = history.sort_values(["unique_id", "ds"], kind="stable").reset_index(
            drop=True
        )
        self.params = params
        self.info = info or {}
        self.horizon = int(self.forecast["step"].max()) if len(self.forecast) else 0
        self._rows = {
            k: v for k, v in self.forecast.groupby("unique_id", sort=False).indices.items()
        }
        self._hist = {
            k: v for k, v in self.history.groupby("unique_id", sort=False).indices.items()
        }

    @property
    def items(self) -> list[str]:
        return list(self._rows)

    def frame(self, h: int | None = None) -> pd.DataFrame:
        """Every series' forecasts for the first ``h`` steps (the contract's long frame)."""
        h = self._check_h(h)
        return self.forecast[self.forecast["step"] <= h].reset_index(drop=True)

    def _check_h(self, h: int | None) -> int:
        if h is None:
            return self.horizon
        if h < 1 or h > self.horizon:
            raise ValidationError(
                f"h must lie in 1..{self.horizon} (the registered horizon), got {h}"
            )
        return int(h)

    def for_item(
        self, item_id: str, h: int | None = None, levels: tuple[int, ...] = (80, 95)
    ) -> dict[str, Any]:
        """One item's forecasts (point, quantiles, intervals per step) and recent history;
        :class:`KeyError` when the item has none."""
        h = self._check_h(h)
        idx = self._rows.get(item_id)
        if idx is None:
            raise KeyError(item_id)
        rows = self.forecast.iloc[idx]
        rows = rows[rows["step"] <= h]
        Q = rows[[qcol(t) for t in QUANTILES]].to_numpy(float)
        steps = []
        for i, (ds, step, point) in enumerate(
            zip(rows["ds"], rows["step"], rows["point"], strict=True)
        ):
            q = {f"{t:g}": float(Q[i, j]) for j, t in enumerate(QUANTILES)}
            steps.append(
                {
                    "ds": pd.Timestamp(ds).date().isoformat(),
                    "step": int(step),
                    "point": float(point),
                    "quantiles": q,
                    "intervals": {
                        str(lv): [
                            q[f"{level_quantiles(lv)[0]:g}"],
                            q[f"{level_quantiles(lv)[1]:g}"],
                        ]
                        for lv in levels
                    },
                }
            )
        hidx = self._hist.get(item_id, np.array([], dtype=int))
        hist = self.history.iloc[hidx]
        return {
            "item_id": item_id,
            "steps": steps,
            "history": [
                {"ds": pd.Timestamp(d).date().isoformat(), "y": float(y)}
                for d, y in zip(hist["ds"], hist["y"], strict=True)
            ],
            "params": self.params.get(item_id, {}),
        }


def write_forecast(
    folder: Path, model: ForecastModel, df: pd.DataFrame, h: int, X_df: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Forecast ``h`` periods and write the serving files into ``folder``."""
    fc = model.predict(h, X_df)
    fc.insert(2, "step", fc.groupby("unique_id").cumcount() + 1)
    folder = Path(folder)
    fc.to_parquet(folder / "forecast.parquet", index=False)
    hist = df.sort_values(["unique_id", "ds"])
    hist = hist[hist.groupby("unique_id").cumcount(ascending=False) < HISTORY_PERIODS]
    hist[["unique_id", "ds", "y"]].to_parquet(folder / "history.parquet", index=False)
    atomic_write_text(folder / "params.json", json.dumps(_jsonable(model.fitted_params())))
    return fc


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj


def train(
    workspace: str | Path,
    registry: Registry | str | Path,
    model: str = "lightgbm",
    h: int = 8,
    freq: str = "W",
    source: str = "auto",
    top: int | None = None,
    backtest: bool = True,
    params: dict[str, Any] | None = None,
    **_: Any,
) -> ModelVersion:
    """Fit ``model`` on the workspace's demand, forecast ``h`` periods and register the serving
    files under ``forecast/<model>`` (with a one-window backtest in its metrics)."""
    from shopml.data.workspace import Workspace
    from shopml.evaluation.forecast import forecast_metrics
    from shopml.forecast.data import demand_frame, top_series
    from shopml.forecast.forecaster import Forecaster, model_frame
    from shopml.registry import Registry

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    if not Path(workspace).exists():
        raise DataError(f"workspace {workspace} does not exist")
    with Workspace(workspace, read_only=True) as ws:
        df = demand_frame(ws, freq, source=source)  # type: ignore[arg-type]
        fingerprint = {t: ws.fingerprint(t) for t in ("orders", "sales")}
    if top:
        df = df[df["unique_id"].isin(top_series(df, int(top)))]
    metrics: dict[str, Any] = {}
    if backtest:
        fc = Forecaster([make_model(model, params, h)], freq=freq)
        try:
            cv = fc.cross_validation(df=df, h=h, n_windows=1)
            hist = df[df["ds"] <= cv["cutoff"].min()]
            metrics = {
                k: round(v, 5)
                for k, v in forecast_metrics(model_frame(cv, fc.aliases[0]), hist).items()
                if np.isfinite(v)
            }
            metrics["backtest"] = f"last {h} periods"
        except ValidationError as e:
            metrics = {"backtest": f"skipped: {e}"}
    m = make_model(model, params, h).fit(df, freq)
    config = {
        "model": model,
        "h": h,
        "freq": freq,
        "source": source,
        "top": top,
        "params": _jsonable(params or {}),
        "series": int(df["unique_id"].nunique()),
        "last_period": str(df["ds"].max().date()),
    }
    return reg.register(
        "forecast",
        model,
        lambda folder: write_forecast(folder, m, df, h),
        config=config,
        metrics=metrics,
        data_fingerprint=fingerprint,
    )


def load(version: ModelVersion, ctx: LoadContext | None = None) -> ForecastTable:
    """The registered forecasts as a :class:`ForecastTable` (Parquet and JSON only)."""
    fc = pd.read_parquet(version.file("forecast.parquet"))
    hist = pd.read_parquet(version.file("history.parquet"))
    params = json.loads(version.file("params.json").read_text())
    return ForecastTable(
        fc,
        hist,
        params,
        {
            "model": version.name,
            "version": version.version,
            **{k: version.config.get(k) for k in ("h", "freq", "last_period")},
        },
    )
