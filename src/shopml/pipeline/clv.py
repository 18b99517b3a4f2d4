"""Pipeline step ``clv``: CLV models behind the CLV contract, judged on a later holdout.

Protocol: completed orders of known customers; calibration on everything up to
``holdout_days`` before the last order day, holdout the days after. For every customer seen in
calibration each model predicts the number of purchase days in the holdout; per-customer MAE
and RMSE with bootstrap intervals (customers resampled), and the best model's MAE minus the
best baseline's with a paired bootstrap interval. Models (:mod:`shopml.predict.clv`):
``BG/NBD`` (BG/NBD + Gamma-Gamma) and ``seasonal BG/NBD`` (BG/NBD in operational time with a
weekday and yearly calendar, its yearly harmonics chosen on a validation period carved from the
end of the calibration period). Baselines: each customer's own past rate (``frequency / T``)
and the population's mean rate. Revenue: expected purchases x expected spend, against the past
rate x past mean spend. The best model is refitted on all orders and registered as
``clv/<model>`` (``btyd`` or ``seasonal``), the layout the CLV capability serves.
"""

from __future__ import annotations

import time
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

#: leaderboard name -> registry name under ``clv/``
MODEL_NAMES = {"BG/NBD": "btyd", "seasonal BG/NBD": "seasonal"}


class ClvStep(Strict):
    """The ``train.clv`` section."""

    holdout_days: int = Field(90, ge=7)
    penalizer: float | None = Field(None, ge=0, description="BG/NBD penalty; none = plain MLE")
    discount_rate: float = Field(0.0, ge=0, description="per month, for the served CLV")
    models: list[Literal["btyd", "seasonal"]] = Field(default_factory=lambda: ["btyd", "seasonal"])
    spend: bool = True
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


def _make(name: str, cfg: ClvStep):
    from shopml.predict.clv import BTYDCLV
    from shopml.predict.clv_seasonal import SeasonalCLV

    if name == "btyd":
        return BTYDCLV(penalizer=cfg.penalizer, spend=cfg.spend)
    return SeasonalCLV(validation_days=cfg.holdout_days, spend=cfg.spend)


@register_step("clv", ClvStep, tables=("orders",), section="predict")
def clv(ctx: StepContext, cfg: ClvStep) -> StepResult:
    """Fit the CLV models on calibration orders, score the holdout, register the best."""
    from shopml.core.errors import ShopMLError
    from shopml.evaluation.stats import bootstrap_ci, paired_test
    from shopml.predict.rfm import rfm_summary

    tx = ctx.workspace.sql(ORDERS_SQL)
    if tx.empty:
        raise StepSkipped("no completed orders of known customers")
    tx["user_id"] = tx["user_id"].astype(str)
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
    x, age = (summ[c].to_numpy(dtype=float) for c in ("frequency", "T"))
    if (x > 0).sum() < 10:
        raise StepSkipped(f"only {int((x > 0).sum())} customers bought twice before {cal_end.date()}")
    horizon = float(summ["duration_holdout"].iloc[0])
    actual = summ["frequency_holdout"].to_numpy(dtype=float)
    actual_rev = actual * summ["monetary_value_holdout"].to_numpy(dtype=float)
    protocol = (
        f"holdout: purchase days per customer in ({cal_end.date()}, {last.date()}], {horizon:g} days; "
        f"calibration on completed orders up to {cal_end.date()}; {len(summ)} customers"
    )
    # a CLV model predicts expected purchases, a mean: squared error is the consistent score for
    # a mean, absolute error the one for a median (Gneiting 2011, "Making and evaluating point
    # forecasts", JASA 106), so models are ranked by RMSE; MAE is reported beside it
    result = StepResult("clv", protocol, "rmse", higher_is_better=False)
    task = ctx.progress.add_task("clv: CLV models", total=len(cfg.models) + 1)

    preds: dict[str, np.ndarray] = {}
    revenue: dict[str, np.ndarray] = {}
    fitted: dict[str, tuple[float, dict]] = {}
    for name in cfg.models:
        label = next(k for k, v in MODEL_NAMES.items() if v == name)
        t0 = time.perf_counter()
        try:
            model = _make(name, cfg).fit(tx, end=cal_end)
            out = model.predict(tx, horizon_days=horizon, end=cal_end).reindex(summ.index)
        except ShopMLError as exc:
            result.notes.append(f"{label} not fitted: {exc}")
            ctx.progress.advance(task)
            continue
        fitted[label] = (time.perf_counter() - t0, model.params_)
        preds[label] = out["expected_purchases"].to_numpy()
        revenue[label] = (out["expected_purchases"] * out["expected_spend"]).to_numpy()
        if name == "seasonal" and model.validation_:
            result.notes.append(
                f"seasonal BG/NBD: {model.harmonics_} yearly harmonic(s), chosen on the "
                f"{cfg.holdout_days} days before {cal_end.date()} (validation MAE "
                + ", ".join(f"K={k}: {v:.4f}" for k, v in model.validation_.items()) + ")"
            )
        ctx.progress.advance(task)
    if not preds:
        raise StepSkipped("no CLV model could be fitted: " + "; ".join(result.notes))
    rate = np.where(age > 0, x / np.where(age > 0, age, 1.0), 0.0)
    preds["past rate (baseline)"] = rate * horizon
    preds["mean rate (baseline)"] = np.full_like(actual, rate.mean() * horizon)
    # past mean spend per purchase day (all days, the first included), for the revenue baselines
    ts = tx["ts"].dt.tz_convert("UTC").dt.tz_localize(None)
    daily_spend = (tx[ts < cal_end + pd.Timedelta(days=1)].groupby("user_id")["value"].sum()
                   .reindex(summ.index).to_numpy() / (x + 1))
    for name in ("past rate (baseline)", "mean rate (baseline)"):
        revenue[name] = preds[name] * daily_spend

    boot = dict(n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed, level=ctx.evaluate.level)
    for name, pred in preds.items():
        err = pred - actual
        mae, mse = bootstrap_ci(np.abs(err), **boot), bootstrap_ci(err**2, **boot)
        rev = bootstrap_ci(np.abs(revenue[name] - actual_rev), **boot)
        metrics = {
            "mae": round(mae.mean, 5),
            "rmse": round(float(np.sqrt(mse.mean)), 5),
            "total_error_pct": round(float(100 * (pred.sum() - actual.sum()) / max(actual.sum(), 1e-9)), 2),
            "revenue_mae": round(rev.mean, 4),
            "revenue_error_pct": round(float(
                100 * (np.nansum(revenue[name]) - actual_rev.sum()) / max(actual_rev.sum(), 1e-9)), 2
            ),
        }
        ci = {"mae": [round(mae.low, 5), round(mae.high, 5)],
              "rmse": [round(float(np.sqrt(mse.low)), 5), round(float(np.sqrt(mse.high)), 5)],
              "revenue_mae": [round(rev.low, 4), round(rev.high, 4)]}
        fit_s, params = fitted.get(name, (0.0, {}))
        result.leaderboard.append(
            Leader(name, metrics, ci, "baseline" in name, round(fit_s, 3), params)
        )
    ctx.progress.advance(task)
    result.plots.append(_conditional_plot(x, actual, preds, horizon))
    best = result.best()
    base = min((r for r in result.leaderboard if r.baseline), key=lambda r: r.metrics["mae"])
    result.stats = {
        "customers": len(summ), "repeat_customers": int((x > 0).sum()),
        "holdout_purchase_days": int(actual.sum()), "calibration_end": str(cal_end.date()),
        "observation_end": str(last.date()),
        "holdout_revenue": float(actual_rev.sum()),
    }
    if best is not None:
        test = paired_test(np.abs(preds[best.model] - actual), np.abs(preds[base.model] - actual),
                           n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed, level=ctx.evaluate.level)
        result.stats["best_vs_baseline_mae"] = {
            "model": best.model, "baseline": base.model, "metric": "mae",
            "diff": round(test.mean_diff, 5), "ci": [round(test.low, 5), round(test.high, 5)],
        }
        verdict = "beats" if test.high < 0 else "loses to" if test.low > 0 else "does not separate from"
        result.notes.append(
            f"{best.model} {verdict} {base.model} on MAE: difference {test.mean_diff:+.4f} "
            f"({ctx.evaluate.level:.0%} paired bootstrap [{test.low:+.4f}, {test.high:+.4f}])"
        )
        # squared error too: a CLV model predicts a mean, for which squared error is the
        # consistent score (absolute error rewards the median: Gneiting 2011)
        sq_base = min((r for r in result.leaderboard if r.baseline), key=lambda r: r.metrics["rmse"])
        sq = paired_test((preds[best.model] - actual) ** 2, (preds[sq_base.model] - actual) ** 2,
                         n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed, level=ctx.evaluate.level)
        result.stats["best_vs_baseline"] = {
            "model": best.model, "baseline": sq_base.model, "metric": "mse",
            "diff": round(sq.mean_diff, 5), "ci": [round(sq.low, 5), round(sq.high, 5)],
        }
        verdict = "beats" if sq.high < 0 else "loses to" if sq.low > 0 else "does not separate from"
        result.notes.append(
            f"{best.model} {verdict} {sq_base.model} on squared error: difference "
            f"{sq.mean_diff:+.4f} ({ctx.evaluate.level:.0%} paired bootstrap [{sq.low:+.4f}, {sq.high:+.4f}])"
        )
    _oracle(ctx, result, summ.index, actual, cal_end, horizon, boot)
    if best is not None:
        for label in [k for k in preds if k in MODEL_NAMES]:
            if not ctx.wants(label, best.model, cfg.register_policy):
                continue
            model = _make(MODEL_NAMES[label], cfg).fit(tx, end=last)
            mv = ctx.register(
                "clv", MODEL_NAMES[label], model.save,
                config={"task": "clv", "model": MODEL_NAMES[label], "params": model.get_params(),
                        "horizon_days": float(cfg.holdout_days),
                        "discount_rate": cfg.discount_rate, "data_until": str(last.date())},
                metrics=next(r.metrics for r in result.leaderboard if r.model == label),
            )
            result.registered.append({**version_ref(mv), "model": label,
                                      "test_metrics": next(r.metrics for r in result.leaderboard
                                                           if r.model == label)})
    ctx.progress.remove_task(task)
    return result


def _oracle(ctx, result, customers, actual, cal_end, horizon: float, boot: dict) -> None:
    """On a simulated shop with its truth beside the workspace: the holdout purchases expected
    from what the simulator knows. A customer still with the shop at the calibration end visits
    ``activity x season`` times (the true rates) and buys on a visit at the shop's average rate
    of purchase days per visit in calibration (the one number not taken from the truth); after
    each purchase they leave with their true ``p_u``, so
    ``E[N] = sum_k P(Poisson(mu) >= k) (1 - p_u)^(k - 1)``."""
    from scipy.stats import poisson

    from shopml.data.synth.result import load_truth, truth_file
    from shopml.evaluation.stats import bootstrap_ci

    path = truth_file(ctx.workspace_path)
    if not path.exists():
        return
    truth = load_truth(path)
    if truth.dropout_sec.size != truth.user_id.size:
        return
    idx = pd.Index(truth.user_id).get_indexer(customers.astype(str))
    if (idx < 0).any():
        return
    day = pd.DatetimeIndex(truth.day.astype("datetime64[ns]"))
    start = day[0]
    end_sec = (cal_end + pd.Timedelta(days=1) - start).total_seconds()
    cal = day <= cal_end
    hold = (day > cal_end) & (day <= cal_end + pd.Timedelta(days=horizon))
    visits = ctx.workspace.sql(
        "SELECT count(DISTINCT session_id) AS n FROM events WHERE session_id IS NOT NULL "
        "AND user_id IS NOT NULL AND ts < ?", [(cal_end + pd.Timedelta(days=1)).to_pydatetime()]
    )["n"].iloc[0]
    days = ctx.workspace.sql(
        "SELECT count(*) AS n FROM (SELECT DISTINCT user_id, CAST(ts AS DATE) FROM orders "
        "WHERE status = 'completed' AND user_id IS NOT NULL AND ts < ?)",
        [(cal_end + pd.Timedelta(days=1)).to_pydatetime()],
    )["n"].iloc[0]
    if not visits or not cal.any():
        return
    per_visit = float(days) / float(visits)
    mu = truth.activity[idx] * truth.season[hold].sum() * per_visit
    alive = truth.dropout_sec[idx] > end_sec
    k = np.arange(1, 60)[:, None]
    stay = (1.0 - truth.dropout_prob[idx])[None, :] ** (k - 1)
    expected = alive * np.sum(poisson.sf(k - 1, mu[None, :]) * stay, axis=0)
    mae = bootstrap_ci(np.abs(expected - actual), **boot)
    mse = bootstrap_ci((expected - actual) ** 2, **boot)
    result.stats["oracle"] = {
        "model": "oracle (true visit rates, season and drop-out)",
        "metrics": {"mae": round(mae.mean, 5), "rmse": round(float(np.sqrt(mse.mean)), 5),
                    "total_error_pct": round(float(100 * (expected.sum() - actual.sum())
                                                   / max(actual.sum(), 1e-9)), 2)},
        "ci": {"mae": [round(mae.low, 5), round(mae.high, 5)]},
    }


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
