"""Pipeline step ``pricing``: elasticities with intervals, checked on held-out periods, and prices.

Protocol: the workspace's demand panel (:func:`shopml.pricing.data.panel_from_workspace`, the
period from the price history unless ``freq`` is set). Each elasticity model is fitted on every
period but the last ``test_periods``, and its demand curve predicts the units of those held-out
periods at the prices actually charged (WAPE, lower is better; the no-price baseline is each
product's recent mean). That is the one check of a demand curve real data allows: the true
elasticities are unknown. Reported beside it: the share of products with a negative elasticity
and with a 95% interval below zero, and the median interval width. The best model by held-out
WAPE is refitted on all periods, prices are planned with it, and both are registered as
``pricing/<model>`` (:func:`shopml.pricing.train.train`).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
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


class PricingStep(Strict):
    """The ``train.pricing`` section."""

    models: list[Literal["naive", "controls", "dml"]] = Field(
        default_factory=lambda: ["naive", "controls", "dml"], min_length=1
    )
    freq: Literal["D", "W", "M"] | None = None
    test_periods: int | None = Field(None, ge=1)
    horizon: int = Field(7, ge=1)
    min_margin: float = Field(0.0, lt=1)
    max_change: float = Field(0.15, ge=0)
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


@register_step("pricing", PricingStep, tables=("orders", "sales", "prices", "items"))
def pricing(ctx: StepContext, cfg: PricingStep) -> StepResult:
    """Fit each elasticity model, check its demand curve on held-out periods, plan prices."""
    from shopml.core.errors import DataError, ValidationError
    from shopml.pricing import MODELS
    from shopml.pricing.base import RECENT
    from shopml.pricing.data import panel_from_workspace
    from shopml.pricing.train import choose_freq, train

    try:
        freq = cfg.freq or choose_freq(ctx.workspace)
        panel = panel_from_workspace(ctx.workspace, freq)
    except (DataError, ValidationError) as exc:
        raise StepSkipped(str(exc)) from None
    test = cfg.test_periods or RECENT[freq]
    periods = np.sort(panel["ds"].unique())
    if periods.size <= 2 * test:
        raise StepSkipped(f"{periods.size} periods of {freq}: too few to hold out {test}")
    cut = periods[-test]
    train_part, hold = panel[panel["ds"] < cut], panel[panel["ds"] >= cut]
    protocol = (
        f"{panel['unique_id'].nunique()} products, periods of {freq}; demand curves fitted before "
        f"{str(cut)[:10]} predict the units of the last {test} periods at their actual prices"
    )
    result = StepResult("pricing", protocol, "holdout_wape", higher_is_better=False)
    recent = train_part.groupby("unique_id").tail(RECENT[freq]).groupby("unique_id")["y"].mean()
    known = hold[hold["unique_id"].isin(recent.index)]
    base = np.abs(known["unique_id"].map(recent) - known["y"]).sum() / max(known["y"].sum(), 1)
    result.leaderboard.append(Leader("recent mean (baseline)", {"holdout_wape": float(base)},
                                     baseline=True))
    task = ctx.progress.add_task("pricing: fitting", total=len(cfg.models))
    for name in cfg.models:
        ctx.progress.update(task, description=f"pricing: {name}")
        t0 = time.perf_counter()
        held = MODELS[name]().fit(train_part)
        fit_s = time.perf_counter() - t0
        k = hold[hold["unique_id"].isin(held.item_ids_)]
        pred = held.predict_units(k["unique_id"].to_numpy(), k["price"].to_numpy())
        e = held.elasticities()
        metrics: dict[str, Any] = {
            "holdout_wape": float(np.abs(pred - k["y"]).sum() / max(k["y"].sum(), 1)),
            "negative_share": float((e["elasticity"] < 0).mean()),
            "significant_negative_share": float((e["upper"] < 0).mean()),
            "median_elasticity": float(e["elasticity"].median()),
            "median_interval_width": float((e["upper"] - e["lower"]).median()),
        }
        result.leaderboard.append(Leader(name, metrics, fit_seconds=round(fit_s, 3),
                                         params=held.get_params()))
        ctx.progress.advance(task)
    ctx.progress.remove_task(task)
    best = result.best()
    result.stats = {
        "freq": freq, "test_periods": test, "products": int(panel["unique_id"].nunique())
    }
    if best is not None and ctx.wants(best.model, best.model, cfg.register_policy):
        mv = train(ctx.workspace, ctx.registry, best.model, freq=freq, horizon=cfg.horizon,
                   min_margin=cfg.min_margin, max_change=cfg.max_change)
        result.registered.append({**version_ref(mv), "model": best.model,
                                  "test_metrics": best.metrics})
        result.notes.append(
            f"registered pricing/{best.model} {mv.version}: expected profit "
            f"{100 * mv.metrics['expected_profit_lift']:+.1f}% at the planned prices over "
            f"{cfg.horizon} period(s)"
        )
    return result
