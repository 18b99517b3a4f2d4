"""Pipeline step ``inventory``: replay base-stock driven by forecast quantiles against the
``mean + z x sigma`` rule over the last periods of real demand (see
:mod:`shopml.benchmarks.inventory` for the protocol; this step runs it on the workspace with
a smaller budget: the ``top`` best sellers, ``reviews`` review periods).

Leaderboard rows are the policies; primary metric: average units on hand among policies that
reach the fill-rate target (others are reported but cannot win), lower is better.
"""

from __future__ import annotations

from typing import Literal

import pandas as pd
from pydantic import Field

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import Leader, StepContext, StepResult, StepSkipped, register_step


class InventoryStep(Strict):
    """The ``train.inventory`` section."""

    forecaster: str = "lightgbm"
    freq: Literal["W", "M"] = "W"
    lead_time: int = Field(1, ge=0, le=12)
    target: float = Field(0.95, gt=0.5, lt=1)
    reviews: int = Field(6, ge=2, le=52)
    top: int = Field(100, ge=1)
    holding: float = Field(1.0, gt=0)
    shortage: float = Field(19.0, gt=0)


@register_step("inventory", InventoryStep, tables=("orders", "sales"))
def inventory(ctx: StepContext, cfg: InventoryStep) -> StepResult:
    """Forecast-driven base-stock vs the rule of thumb over the last ``reviews`` periods."""
    from shopml.core.errors import DataError, ValidationError
    from shopml.forecast.data import demand_frame, top_series
    from shopml.forecast.forecaster import Forecaster, model_frame
    from shopml.forecast.train import make_model
    from shopml.inventory.replay import forecast_levels, replay, rule_levels

    try:
        df = demand_frame(ctx.workspace, cfg.freq)[["unique_id", "ds", "y"]]
    except DataError as exc:
        raise StepSkipped(str(exc)) from None
    if cfg.forecaster in ("seasonal_naive", "auto_ets", "auto_theta", "croston", "tsb"):
        try:
            import statsforecast  # noqa: F401
        except ImportError:
            raise StepSkipped(
                f"{cfg.forecaster} needs statsforecast (pip install 'shopml[forecast]')"
            ) from None
    freq = "W-MON" if cfg.freq == "W" else "MS"
    off = pd.tseries.frequencies.to_offset(freq)
    H = cfg.lead_time + 1
    if df["ds"].nunique() < cfg.reviews + H + 8:
        raise StepSkipped(
            f"{df['ds'].nunique()} periods: too few for {cfg.reviews} reviews after 8 to learn from"
        )
    first_cutoff = df["ds"].max() - off * (cfg.reviews + cfg.lead_time)
    df = df[df["unique_id"].isin(top_series(df, cfg.top, until=first_cutoff))].reset_index(
        drop=True
    )
    fc = Forecaster([make_model(cfg.forecaster, None, H)], freq=cfg.freq)
    task = ctx.progress.add_task("inventory: rolling forecasts", total=None)
    try:
        cv = fc.cross_validation(df=df, h=H, n_windows=cfg.reviews)
    except ValidationError as exc:
        raise StepSkipped(str(exc)) from None
    finally:
        ctx.progress.remove_task(task)
    cutoffs = sorted(cv["cutoff"].unique())
    quant = model_frame(cv, fc.aliases[0])
    result = StepResult(
        "inventory",
        f"{df['unique_id'].nunique()} items, {len(cutoffs)} weekly reviews, lead time "
        f"{cfg.lead_time}, lost sales, "
        f"target fill rate {cfg.target:.0%}; forecaster {cfg.forecaster} refitted per review",
        "avg_on_hand",
        higher_is_better=False,
    )
    costs = {"holding": cfg.holding, "shortage": cfg.shortage}
    rows = []
    for service in ("fill_rate", "cycle"):
        for name, levels, base in (
            (
                f"rule mean + z*sigma ({service})",
                rule_levels(df, cutoffs, cfg.lead_time, cfg.target, service),
                True,
            ),
            (
                f"{cfg.forecaster} quantiles ({service})",
                forecast_levels(quant, cfg.lead_time, cfg.target, service),
                False,
            ),
        ):
            s = replay(df, levels, freq, cfg.lead_time, **costs).summary()
            met = {
                "fill_rate": round(s["fill_rate"], 4),
                "cycle_service": round(s["cycle_service"], 4),
                "total_cost": round(s["total_cost"], 1),
                "stockout_periods": float(s["stockout_periods"]),
            }
            # a policy that misses the target cannot win on stock: report its stock apart
            key = "avg_on_hand" if s["fill_rate"] >= cfg.target else "avg_on_hand_missing_target"
            met[key] = round(s["avg_on_hand"], 2)
            rows.append(
                Leader(name, met, {}, base, None, {"service": service, "target": cfg.target})
            )
    result.leaderboard = rows
    best = result.best(include_baselines=True)
    result.notes.append(
        f"lowest stock at the {cfg.target:.0%} fill rate: {best.model} "
        f"({best.metrics['avg_on_hand']:.1f} units)"
        if best is not None
        else f"no policy reached the {cfg.target:.0%} fill rate"
    )
    return result
