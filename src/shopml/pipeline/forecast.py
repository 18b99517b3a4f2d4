"""Pipeline step ``forecast``: demand per item, the best model against seasonal naive.

Protocol: units per item and period from the workspace (``orders``, else ``sales``), the ``top``
best sellers before the test part; rolling origin over the last ``test`` periods (horizon ``h``,
stepping one period), every model refitted per cutoff. Leaderboard: WAPE (primary), MASE,
RMSSE, pinball at 0.1/0.5/0.9 and 80% coverage; statsforecast models are the baselines
(skipped, with a note, where the ``forecast`` extra is not installed). The best model is refitted
on all the data and its forecasts registered as ``forecast/<model>`` (what the service serves).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import (
    Leader,
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    version_ref,
)

STATS = ("seasonal_naive", "auto_ets", "auto_theta", "croston", "tsb")


class ForecastStep(Strict):
    """The ``train.forecast`` section."""

    models: list[str] = Field(
        default_factory=lambda: ["seasonal_naive", "auto_ets", "lightgbm"], min_length=1
    )
    freq: Literal["W", "M"] = "W"
    h: int = Field(4, ge=1, le=52)
    test: int = Field(4, ge=1, le=104)
    top: int = Field(200, ge=1)
    serve_h: int = Field(8, ge=1, le=104)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


def _statsforecast_available() -> bool:
    try:
        import statsforecast  # noqa: F401
    except ImportError:
        return False
    return True


@register_step("forecast", ForecastStep, tables=("orders", "sales", "items"))
def forecast(ctx: StepContext, cfg: ForecastStep) -> StepResult:
    """Rolling-origin backtest of each model; register the best one's forecasts."""
    from shopml.core.errors import DataError, ValidationError
    from shopml.evaluation.forecast import forecast_metrics
    from shopml.forecast.base import QUANTILES, qcol
    from shopml.forecast.data import demand_frame, top_series
    from shopml.forecast.forecaster import Forecaster, model_frame
    from shopml.forecast.train import make_model, write_forecast

    try:
        df = demand_frame(ctx.workspace, cfg.freq)
    except DataError as exc:
        raise StepSkipped(str(exc)) from None
    test = max(cfg.test, cfg.h)
    periods = df["ds"].nunique()
    if periods < test + 8:
        raise StepSkipped(
            f"{periods} periods of demand: need at least {test + 8} to learn and to test"
        )
    off = pd.tseries.frequencies.to_offset("W-MON" if cfg.freq == "W" else "MS")
    first_cutoff = df["ds"].max() - off * test
    df = df[df["unique_id"].isin(top_series(df, cfg.top, until=first_cutoff))].reset_index(
        drop=True
    )
    notes = []
    names = list(cfg.models)
    if not _statsforecast_available():
        dropped = [m for m in names if m in STATS]
        names = [m for m in names if m not in STATS]
        if dropped:
            notes.append(
                "statsforecast is not installed (pip install 'shopml[forecast]'): skipped "
                f"{dropped}"
            )
        if not names:
            raise StepSkipped("every model needs statsforecast, which is not installed")
    models = [make_model(n, cfg.params.get(n), cfg.h) for n in names]
    alias_of = {m.alias: n for m, n in zip(models, names, strict=True)}
    fc = Forecaster(models, freq=cfg.freq)
    task = ctx.progress.add_task("forecast: backtest", total=None)
    try:
        cv = fc.cross_validation(df=df, h=cfg.h, n_windows=test - cfg.h + 1)
    except ValidationError as exc:
        raise StepSkipped(str(exc)) from None
    finally:
        ctx.progress.remove_task(task)
    hist = df[df["ds"] <= cv["cutoff"].min()]
    protocol = (
        f"{df['unique_id'].nunique()} items ({cfg.freq}), rolling origin over the last {test} "
        "periods, "
        f"horizon {cfg.h}, cutoffs {cv['cutoff'].min().date()}..{cv['cutoff'].max().date()}"
    )
    result = StepResult("forecast", protocol, "wape", higher_is_better=False, notes=notes)
    for alias in fc.aliases:
        met = forecast_metrics(model_frame(cv, alias), hist)
        shown = {k: round(float(v), 5) for k, v in met.items() if np.isfinite(v)}
        result.leaderboard.append(
            Leader(
                alias_of[alias],
                shown,
                {},
                alias_of[alias] in STATS,
                round(fc.cv_fit_seconds_[alias], 3),
                {
                    k: v
                    for k, v in fc.models[fc.aliases.index(alias)].get_params().items()
                    if isinstance(v, int | float | str | bool)
                },
            )
        )
    best = result.best()
    base = next((r for r in result.leaderboard if r.model == "seasonal_naive"), None)
    if best is not None and base is not None:
        result.notes.append(
            f"best model {best.model}: WAPE {best.metrics['wape']:.4f}, MASE "
            f"{best.metrics['mase']:.4f} "
            f"against seasonal naive's {base.metrics['wape']:.4f} / {base.metrics['mase']:.4f} "
            f"({100 * (1 - best.metrics['wape'] / base.metrics['wape']):+.1f}% WAPE)"
        )
    # plot: the best-selling item's history and the best model's last-cutoff forecast band
    if best is not None:
        alias = next(a for a, n in alias_of.items() if n == best.model)
        top_item = df.groupby("unique_id")["y"].sum().idxmax()
        last = model_frame(cv[cv["cutoff"] == cv["cutoff"].max()], alias)
        last = last[last["unique_id"] == top_item]
        h_ = df[df["unique_id"] == top_item].tail(26)
        x = lambda s: [pd.Timestamp(d).date().isoformat() for d in s]  # noqa: E731
        result.plots.append(
            {
                "kind": "lines",
                "title": f"{best.model}: {top_item} (best seller), history and forecast",
                "x_label": "period",
                "y_label": "units",
                "series": [
                    {"name": "actual", "x": x(h_["ds"]), "y": h_["y"].round(2).tolist()},
                    {"name": "forecast", "x": x(last["ds"]), "y": last["point"].round(2).tolist()},
                    {"name": "q0.1", "x": x(last["ds"]), "y": last[qcol(0.1)].round(2).tolist()},
                    {"name": "q0.9", "x": x(last["ds"]), "y": last[qcol(0.9)].round(2).tolist()},
                ],
            }
        )
    result.stats = {
        "series": int(df["unique_id"].nunique()),
        "periods": int(periods),
        "quantiles": list(QUANTILES),
    }
    for row in result.leaderboard:
        if not ctx.wants(row.model, best.model if best else None, cfg.register_policy):
            continue
        t0 = time.perf_counter()
        m = make_model(row.model, cfg.params.get(row.model), cfg.serve_h).fit(df, cfg.freq)
        mv = ctx.register(
            "forecast",
            row.model,
            lambda folder, m=m: write_forecast(folder, m, df, cfg.serve_h),
            config={
                "model": row.model,
                "h": cfg.serve_h,
                "freq": cfg.freq,
                "top": cfg.top,
                "last_period": str(df["ds"].max().date()),
            },
            metrics={**row.metrics, "fit_seconds": round(time.perf_counter() - t0, 3)},
        )
        result.registered.append(
            {**version_ref(mv), "model": row.model, "test_metrics": row.metrics}
        )
    return result
