"""Pipeline step ``clv``: BG/NBD purchases and Gamma-Gamma spend, judged on a later holdout.

Protocol: completed orders of known customers; calibration on everything up to
``holdout_days`` before the last order day, holdout the days after. For every customer seen in
calibration each model predicts the number of purchase days in the holdout; per-customer MAE
and RMSE with bootstrap intervals (customers resampled). Baselines: each customer's own past
rate (``frequency / T``) and the population's mean rate. With Gamma-Gamma the holdout revenue
is predicted too (BG/NBD purchases x expected spend) and compared with the past rate x past mean
spend. The registered model is refitted on all orders (calibration + holdout) as ``predict/clv``
in the layout the service loads (:func:`shopml.serve.artifacts.register_clv`).
"""

from __future__ import annotations

import time
import warnings
from typing import Literal

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

# the line's value: quantity x unit price (CDNOW keeps a dollar value in attributes)
ORDERS_SQL = """
SELECT user_id, ts,
       coalesce(TRY_CAST(json_extract_string(attributes, '$.dollar_value') AS DOUBLE),
                quantity * unit_price, 0.0) AS value
FROM orders WHERE status = 'completed' AND user_id IS NOT NULL
"""


class ClvStep(Strict):
    """The ``train.clv`` section."""

    holdout_days: int = Field(90, ge=7)
    penalizer: float = Field(0.0, ge=0)
    discount_rate: float = Field(0.0, ge=0, description="per month, for the served CLV")
    spend: bool = True
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


@register_step("clv", ClvStep, tables=("orders",), section="predict")
def clv(ctx: StepContext, cfg: ClvStep) -> StepResult:
    """Fit BG/NBD (+ Gamma-Gamma) on calibration orders, score the holdout, register."""
    from shopml.core.errors import ShopMLError
    from shopml.evaluation.stats import bootstrap_ci
    from shopml.predict.btyd import BGNBD, GammaGamma
    from shopml.predict.rfm import rfm_summary
    from shopml.serve.artifacts import register_clv

    tx = ctx.workspace.sql(ORDERS_SQL)
    if tx.empty:
        raise StepSkipped("no completed orders of known customers")
    last = pd.Timestamp(tx["ts"].max()).tz_convert("UTC").tz_localize(None).floor("D")
    first = pd.Timestamp(tx["ts"].min()).tz_convert("UTC").tz_localize(None).floor("D")
    cal_end = last - pd.Timedelta(days=cfg.holdout_days)
    if (cal_end - first).days < cfg.holdout_days:
        raise StepSkipped(
            f"orders span {(last - first).days} days: too short for a calibration period at least "
            f"as long as the {cfg.holdout_days}-day holdout"
        )
    kw = {"customer_col": "user_id", "time_col": "ts", "value_col": "value", "freq": "D"}
    summ = rfm_summary(tx, cal_end, last, **kw)
    x, rec, age = (summ[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    if (x > 0).sum() < 10:
        raise StepSkipped(f"only {int((x > 0).sum())} customers bought twice before {cal_end.date()}")
    horizon = float(summ["duration_holdout"].iloc[0])
    actual = summ["frequency_holdout"].to_numpy(dtype=float)
    actual_rev = actual * summ["monetary_value_holdout"].to_numpy(dtype=float)
    protocol = (
        f"holdout: purchase days per customer in ({cal_end.date()}, {last.date()}], {horizon:g} days; "
        f"calibration on completed orders up to {cal_end.date()}; {len(summ)} customers"
    )
    result = StepResult("clv", protocol, "mae", higher_is_better=False)
    task = ctx.progress.add_task("clv: BG/NBD + Gamma-Gamma", total=3)

    t0 = time.perf_counter()
    bg, pred, penalizer = _bgnbd(x, rec, age, horizon, cfg.penalizer, result.notes)
    fit_s = time.perf_counter() - t0
    preds = {"BG/NBD": pred}
    rate = np.where(age > 0, x / np.where(age > 0, age, 1.0), 0.0)
    preds["past rate (baseline)"] = rate * horizon
    preds["mean rate (baseline)"] = np.full_like(actual, rate.mean() * horizon)
    ctx.progress.advance(task)

    spend = None
    gg = None
    pos = (x > 0) & (summ["monetary_value"].to_numpy() > 0)
    if cfg.spend and pos.sum() >= 10:
        xg, mg = np.where(pos, x, 0.0), np.where(pos, summ["monetary_value"].to_numpy(), 0.0)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                gg = GammaGamma(penalizer=penalizer).fit(xg, mg)
            spend = gg.conditional_expected_average_profit(xg, mg)
        except ShopMLError as exc:
            result.notes.append(f"Gamma-Gamma not fitted: {exc}")
            gg = None
    ctx.progress.advance(task)

    # past mean spend per purchase day (all days, the first included), for the revenue baseline
    daily_spend = (tx[tx["ts"].dt.tz_convert("UTC").dt.tz_localize(None) < cal_end + pd.Timedelta(days=1)]
                   .groupby("user_id")["value"].sum().reindex(summ.index).to_numpy() / (x + 1))
    for name, pred in preds.items():
        err = pred - actual
        boot = dict(n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed, level=ctx.evaluate.level)
        mae, mse = bootstrap_ci(np.abs(err), **boot), bootstrap_ci(err**2, **boot)
        metrics = {
            "mae": round(mae.mean, 5),
            "rmse": round(float(np.sqrt(mse.mean)), 5),
            "total_error_pct": round(100 * (pred.sum() - actual.sum()) / max(actual.sum(), 1e-9), 2),
        }
        ci = {"mae": [round(mae.low, 5), round(mae.high, 5)],
              "rmse": [round(float(np.sqrt(mse.low)), 5), round(float(np.sqrt(mse.high)), 5)]}
        if gg is not None:
            per_day = spend if name == "BG/NBD" else daily_spend
            rev = bootstrap_ci(np.abs(pred * per_day - actual_rev), **boot)
            metrics["revenue_mae"] = round(rev.mean, 4)
            ci["revenue_mae"] = [round(rev.low, 4), round(rev.high, 4)]
        result.leaderboard.append(
            Leader(name, metrics, ci, "baseline" in name,
                   round(fit_s, 3) if name == "BG/NBD" else 0.0,
                   bg.params_ if name == "BG/NBD" else {})
        )
    result.plots.append(_conditional_plot(x, actual, preds, horizon))
    result.stats = {
        "customers": len(summ), "repeat_customers": int((x > 0).sum()),
        "holdout_purchase_days": int(actual.sum()), "calibration_end": str(cal_end.date()),
        "observation_end": str(last.date()),
        "bgnbd": bg.params_, "gamma_gamma": gg.params_ if gg is not None else None,
    }
    best = result.best()  # BG/NBD: the only model that can serve per-customer CLV
    winner = result.best(include_baselines=True)
    if winner is not None and winner.baseline:
        result.notes.append(f"the baseline {winner.model} beat BG/NBD on holdout MAE")
    if best is not None and ctx.wants("BG/NBD", best.model, cfg.register_policy):
        full = rfm_summary(tx, last, **kw)
        fx, fr, ft = (full[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            bg_all = BGNBD(penalizer=penalizer).fit(fx, fr, ft)
            gg_all = None
            fpos = (fx > 0) & (full["monetary_value"].to_numpy() > 0)
            if gg is not None and fpos.sum() >= 10:
                gg_all = GammaGamma(penalizer=penalizer).fit(
                    np.where(fpos, fx, 0.0), np.where(fpos, full["monetary_value"].to_numpy(), 0.0))
        mv = register_clv(
            ctx.registry, bg_all, gg_all, freq="D", horizon=float(cfg.holdout_days),
            discount_rate=cfg.discount_rate, config={"pipeline": ctx.pipeline, "data_until": str(last.date())},
            metrics=best.metrics, data_fingerprint=ctx.fingerprints,
        )
        result.registered.append({**version_ref(mv), "model": "BG/NBD", "test_metrics": best.metrics})
    ctx.progress.advance(task)
    ctx.progress.remove_task(task)
    return result


def _bgnbd(x, rec, age, horizon: float, penalizer: float, notes: list[str]):
    """Fit BG/NBD and predict the holdout; without a penalty and a data set that shows almost no
    drop-out, ``a`` and ``b`` run off to huge values where the predictions are not finite: then
    refit once with a small penalty (as lifetimes users do with ``penalizer_coef``)."""
    from shopml.core.errors import ShopMLError
    from shopml.predict.btyd import BGNBD

    tries = [penalizer] if penalizer > 0 else [0.0, 1e-3]
    for i, pen in enumerate(tries):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                bg = BGNBD(penalizer=pen).fit(x, rec, age)
                pred = bg.predict_purchases(horizon, x, rec, age)
            if i:
                notes.append(f"BG/NBD without a penalty gave unusable predictions; fitted with penalizer={pen:g}")
            return bg, pred, pen
        except ShopMLError as exc:
            last = exc
    raise StepSkipped(f"BG/NBD cannot be fitted to these orders: {last}")


def _conditional_plot(x: np.ndarray, actual: np.ndarray, preds: dict[str, np.ndarray], horizon: float) -> dict:
    """Mean holdout purchases by calibration repeat purchases (Fader-Hardie's check of fit)."""
    bucket = np.minimum(x, 7).astype(int)
    xs = sorted(set(bucket.tolist()))
    counts = np.bincount(bucket, minlength=8)

    def mean_by(v: np.ndarray) -> list[float]:
        s = np.bincount(bucket, weights=v, minlength=8)
        return [round(float(s[b] / counts[b]), 4) for b in xs]

    series = [{"name": "actual", "x": xs, "y": mean_by(actual)}]
    series += [{"name": n, "x": xs, "y": mean_by(p)} for n, p in preds.items()]
    return {
        "title": f"mean purchase days in the {horizon:g}-day holdout by repeat purchases in calibration (7 = 7+)",
        "kind": "lines", "x_label": "repeat purchase days in calibration", "y_label": "holdout purchase days",
        "series": series,
    }
