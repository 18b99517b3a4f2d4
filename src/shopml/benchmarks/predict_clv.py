"""``shopml bench predict --task clv``: customer lifetime value (issue 4).

Task ``clv``: calibrate on the customers' history up to a
cutoff, predict each customer's number of purchases (distinct purchase days) in the holdout
after it, and compare per customer:

- ``shopml BG/NBD`` (:class:`shopml.predict.clv.BTYDCLV`, BG/NBD + Gamma-Gamma through the CLV
  model contract) fitted on the calibration orders;
- ``shopml seasonal BG/NBD`` (:class:`shopml.predict.clv_seasonal.SeasonalCLV`): BG/NBD in
  operational time with a weekday and yearly calendar, its yearly harmonics chosen on a
  validation period (as long as the holdout) carved from the end of the calibration period;
- ``lifetimes BetaGeoFitter``, the peer, on the same summary;
- ``LightGBM RFM`` a Poisson regressor on :func:`shopml.predict.rfm_features`. It cannot learn
  from the holdout, so it is trained on a pair shifted back in time and wholly inside the
  calibration period: features up to ``calibration_end - H``, target = purchase days in the
  next ``H`` days, with ``H`` = the holdout length, capped at half of the calibration span
  (CDNOW's cohort is only 39 weeks old at the cutoff, so ``H`` is 136 days there). Its
  prediction at ``calibration_end`` is scaled by ``holdout / H``;
- ``naive rate`` the floor: calibration repeat-purchase rate ``frequency / T`` times the
  holdout length.

Metrics: MAE and RMSE per customer, the predicted and actual holdout totals and the total's
relative error; each shopml model's MAE minus the naive rate's with a 95% paired bootstrap
interval (customers resampled); holdout revenue (expected purchases x expected spend). Protocols: ``cdnow`` / ``cdnow-sample``: the Fader-Hardie split, calibration
1997-01-01 .. 1997-09-30 (39 weeks), holdout 1997-10-01 .. 1998-06-30 (39 weeks), times in
weeks. Any other dataset or workspace: known customers' completed orders, holdout = the last
``holdout_days`` (default 90) days up to the last order day, times in days.

Run ``python -m shopml.benchmarks.predict --task clv --dataset cdnow-sample`` to write
``bench/results/predict_clv_cdnow-sample.json`` (+ ``.md``).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row
from shopml.benchmarks.workspace import open_workspace
from shopml.core.errors import DataError, ValidationError
from shopml.evaluation.stats import paired_test
from shopml.predict.btyd import bgnbd_log_likelihood
from shopml.predict.clv import BTYDCLV
from shopml.predict.clv_seasonal import SeasonalCLV
from shopml.predict.rfm import UNIT_DAYS, rfm_features, rfm_summary

# the published split of the CDNOW cohort (Fader, Hardie & Lee 2005)
CDNOW_PROTOCOL = {"calibration_end": "1997-09-30", "observation_end": "1998-06-30", "freq": "W"}
CDNOW_DATASETS = ("cdnow", "cdnow-sample")

# completed orders of known customers, one row per order line with its value; CDNOW keeps the
# line's dollar value in attributes because lines with 0 CDs have no unit price
_ORDERS_SQL = """
SELECT user_id, ts,
       coalesce(TRY_CAST(json_extract_string(attributes, '$.dollar_value') AS DOUBLE),
                quantity * unit_price, 0.0) AS value
FROM orders WHERE status = 'completed' AND user_id IS NOT NULL
"""


def _orders(
    dataset: str | None, workspace: str | Path | None
) -> tuple[pd.DataFrame, dict[str, int]]:
    """Transactions ``user_id, ts, value`` and counts of what was left out."""
    with open_workspace(dataset, workspace) as ws:
        tx = ws.sql(_ORDERS_SQL)
        counts = ws.sql(
            "SELECT count(*) AS lines, count(*) FILTER (WHERE user_id IS NULL) AS anonymous, "
            "count(*) FILTER (WHERE status <> 'completed') AS not_completed FROM orders"
        ).iloc[0]
    if tx.empty:
        raise DataError(f"{dataset or workspace}: no completed orders of known customers")
    return tx, {k: int(v) for k, v in counts.items()}


def _protocol(dataset: str | None, tx: pd.DataFrame, holdout_days: int | None) -> dict[str, Any]:
    if dataset in CDNOW_DATASETS and holdout_days is None:
        return dict(CDNOW_PROTOCOL)
    days = 90 if holdout_days is None else int(holdout_days)
    if days < 1:
        raise ValidationError(f"holdout_days must be >= 1, got {days}")
    last = pd.Timestamp(tx["ts"].max())
    last = (last.tz_convert("UTC").tz_localize(None) if last.tzinfo else last).floor("D")
    return {
        "calibration_end": str((last - pd.Timedelta(days=days)).date()),
        "observation_end": str(last.date()),
        "freq": "D",
    }


def _metrics(pred: np.ndarray, actual: np.ndarray) -> dict[str, float]:
    err = pred - actual
    total_pred, total_actual = float(pred.sum()), float(actual.sum())
    return {
        "mae": float(np.mean(np.abs(err))),
        "rmse": float(np.sqrt(np.mean(err**2))),
        "predicted_total": total_pred,
        "actual_total": total_actual,
        "total_error_pct": 100.0 * (total_pred - total_actual) / total_actual
        if total_actual
        else float("nan"),
    }


def _revenue(out: pd.DataFrame, actual_rev: np.ndarray) -> dict[str, float]:
    """Holdout revenue: expected purchases x expected spend per purchase, against the actual."""
    rev = (out["expected_purchases"] * out["expected_spend"]).to_numpy()
    return {
        "holdout_revenue_predicted": float(np.nansum(rev)),
        "holdout_revenue_actual": float(actual_rev.sum()),
        "revenue_mae": float(np.nanmean(np.abs(rev - actual_rev))),
    }


def _feature_frame(f: pd.DataFrame) -> pd.DataFrame:
    # ratios travel across cutoffs better than ages: the training pair's customers are younger
    out = f.copy()
    age = out["T"].where(out["T"] > 0)
    out["rate"] = out["frequency"] / age
    out["recency_ratio"] = out["recency"] / age
    return out


def clv(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    quick: bool = False,
    holdout_days: int | None = None,
    seed: int = 0,
) -> BenchResult:
    """The CLV benchmark (see the module docstring); returns the rows, writes nothing."""
    tx, counts = _orders(dataset, workspace)
    proto = _protocol(dataset, tx, holdout_days)
    cal_end, obs_end, freq = proto["calibration_end"], proto["observation_end"], proto["freq"]
    unit = UNIT_DAYS[freq]
    kw = {"customer_col": "user_id", "time_col": "ts", "value_col": "value", "freq": freq}
    summ = rfm_summary(tx, cal_end, obs_end, **kw)
    x, tx_, age = summ["frequency"], summ["recency"], summ["T"]
    horizon = float(summ["duration_holdout"].iloc[0])
    actual = summ["frequency_holdout"].to_numpy(dtype=np.float64)
    label = dataset or Path(str(workspace)).stem
    unit_name = "weeks" if freq == "W" else "days"
    result = BenchResult(
        capability="predict",
        dataset=label,
        protocol=(
            f"clv: purchase days per customer in the holdout ({cal_end} .. {obs_end}], "
            f"{horizon:g} {unit_name}; calibration on orders up to {cal_end} inclusive; "
            f"{len(summ)} customers"
        ),
    )
    t: dict[str, float] = {}

    # -- shopml BG/NBD (+ Gamma-Gamma for the holdout revenue), through the CLV contract
    horizon_days = horizon * unit
    actual_rev = (summ["frequency_holdout"] * summ["monetary_value_holdout"]).to_numpy()
    t0 = time.perf_counter()
    model = BTYDCLV(penalizer=None, time_unit=freq).fit(tx, end=cal_end)
    t["fit"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    out = model.predict(tx, horizon_days=horizon_days, end=cal_end).reindex(summ.index.astype(str))
    t["predict"] = time.perf_counter() - t0
    bg = model.bgnbd_
    pred = out["expected_purchases"].to_numpy()
    extra: dict[str, Any] = {"log_likelihood": bg.log_likelihood_, "optimizer": bg.optimizer_}
    rep = x > 0
    gg = model.gamma_gamma_
    if gg is not None:
        # Gamma-Gamma models positive spend: customers whose repeat purchases are all worth 0
        # (CDNOW has $0.00 lines) are left out of its fit and get the population mean
        pos = (rep & (summ["monetary_value"] > 0)).to_numpy()
        extra["gamma_gamma"] = {
            "params": gg.params_,
            "log_likelihood": gg.log_likelihood_,
            "customers": int(pos.sum()),
            "left_out_zero_spend": int((rep & ~pos).sum()),
        }
    extra.update(_revenue(out, actual_rev))
    result.rows.append(
        Row(
            "shopml BG/NBD",
            _metrics(pred, actual),
            False,
            t["fit"],
            t["predict"],
            bg.params_,
            extra,
        )
    )
    preds = {"shopml BG/NBD": pred}

    # -- BG/NBD with a calendar (time-varying covariates), harmonics chosen on validation
    t0 = time.perf_counter()
    seasonal = SeasonalCLV(validation_days=int(round(horizon_days))).fit(tx, end=cal_end)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    sout = seasonal.predict(tx, horizon_days=horizon_days, end=cal_end).reindex(
        summ.index.astype(str)
    )
    pred_s = time.perf_counter() - t0
    preds["shopml seasonal BG/NBD"] = sout["expected_purchases"].to_numpy()
    result.rows.append(
        Row(
            "shopml seasonal BG/NBD",
            _metrics(preds["shopml seasonal BG/NBD"], actual),
            False,
            fit_s,
            pred_s,
            seasonal.params_,
            {"validation_mae_by_harmonics": seasonal.validation_, **_revenue(sout, actual_rev)},
        )
    )

    # -- lifetimes, the peer
    try:
        from lifetimes import BetaGeoFitter
    except ImportError as exc:  # pragma: no cover - lifetimes is in the bench extra
        result.notes.append(f"lifetimes not installed ({exc}): no peer row")
    else:
        t0 = time.perf_counter()
        try:
            lt = BetaGeoFitter().fit(x.to_numpy(), tx_.to_numpy(), age.to_numpy())
            fit_s = time.perf_counter() - t0
            t0 = time.perf_counter()
            lpred = np.asarray(
                lt.predict(horizon, x.to_numpy(), tx_.to_numpy(), age.to_numpy()), dtype=float
            )
            pred_s = time.perf_counter() - t0
            lparams = {k: float(v) for k, v in lt.params_.items()}
            ll = float(bgnbd_log_likelihood(list(lparams.values()), x, tx_, age).sum())
            metrics = _metrics(lpred, actual)
            extra = {"log_likelihood": ll, "nan_predictions": int(np.isnan(lpred).sum())}
            if np.isnan(lpred).any():
                metrics = _metrics(np.nan_to_num(lpred), actual)
                result.notes.append(
                    f"lifetimes returned {int(np.isnan(lpred).sum())} NaN predictions (counted as 0)"
                )
            result.rows.append(
                Row("lifetimes BetaGeoFitter", metrics, True, fit_s, pred_s, lparams, extra)
            )
        except Exception as exc:  # the peer's failures are a result, not a crash
            msg = " ".join(str(exc).split())
            result.notes.append(
                f"lifetimes BetaGeoFitter failed on the same summary: {type(exc).__name__}: {msg}"
            )

    # -- LightGBM on RFM features, trained on a pair shifted back inside the calibration period
    result.rows.append(
        _lightgbm_row(tx, summ, cal_end, horizon, unit, kw, actual, quick, seed, result)
    )

    # -- naive floor
    t0 = time.perf_counter()
    rate = np.where(age > 0, x / np.where(age > 0, age, 1.0), 0.0)
    naive = rate * horizon
    # the naive revenue: past rate x the customer's mean spend per repeat purchase day
    naive_rev = naive * summ["monetary_value"].to_numpy()
    result.rows.append(
        Row(
            "naive rate",
            _metrics(naive, actual),
            False,
            0.0,
            time.perf_counter() - t0,
            {"rate": "frequency / T"},
            {
                "holdout_revenue_predicted": float(naive_rev.sum()),
                "holdout_revenue_actual": float(actual_rev.sum()),
                "revenue_mae": float(np.mean(np.abs(naive_rev - actual_rev))),
            },
        )
    )
    # paired bootstrap of the per-customer absolute error against the naive rate
    # and of the squared error (the consistent scoring function for a mean, which is what a
    # CLV model predicts; absolute error is consistent for the median: Gneiting 2011)
    for row in result.rows:
        if row.model not in preds:
            continue
        for key, loss in (("mae", np.abs), ("mse", np.square)):
            test = paired_test(loss(preds[row.model] - actual), loss(naive - actual), seed=seed)
            row.extra[f"{key}_minus_naive"] = {
                "mean": test.mean_diff, "low": test.low, "high": test.high, "level": test.level,
            }
            result.notes.append(
                f"{row.model} {key.upper()} minus naive rate's: {test.mean_diff:+.4f} "
                f"(95% paired bootstrap [{test.low:+.4f}, {test.high:+.4f}])"
            )

    fmt = ", ".join(f"{k}={v:.4g}" for k, v in bg.params_.items())
    result.notes.append(
        f"shopml BG/NBD: {fmt}, log-likelihood {bg.log_likelihood_:.2f}; "
        f"{bg.optimizer_['agreeing_starts']} of {bg.optimizer_['starts']} starts reach the optimum"
    )
    if "gamma_gamma" in result.rows[0].extra:
        g = result.rows[0].extra["gamma_gamma"]
        gfmt = ", ".join(f"{k}={v:.4g}" for k, v in g["params"].items())
        result.notes.append(
            f"Gamma-Gamma: {gfmt}; fitted on {g['customers']} customers "
            f"({g['left_out_zero_spend']} with only zero-value repeat purchases left out)"
        )
    for row in result.rows:
        if "holdout_revenue_predicted" in row.extra:
            e = row.extra
            result.notes.append(
                f"{row.model}: holdout revenue predicted {e['holdout_revenue_predicted']:,.0f} vs "
                f"actual {e['holdout_revenue_actual']:,.0f}, MAE per customer {e['revenue_mae']:.2f}"
            )
    s_par, s_val = result.rows[1].params, result.rows[1].extra["validation_mae_by_harmonics"]
    result.notes.append(
        f"shopml seasonal BG/NBD: {s_par['harmonics']} yearly harmonic(s); "
        + (
            f"chosen on a {horizon_days:g}-day validation period before {cal_end} "
            "(validation MAE by harmonics: " + ", ".join(f"{k}: {v:.4f}" for k, v in s_val.items())
            + ")"
            if s_val
            else "calibration too short to carve a validation period: the simplest form kept"
        )
    )
    result.notes += [
        f"orders: {counts['lines']} lines; left out {counts['anonymous']} anonymous and "
        f"{counts['not_completed']} not completed; a purchase is a customer's distinct purchase day",
        f"calibration: {int(x.sum())} repeat purchase days by {len(summ)} customers "
        f"({int(rep.sum())} with repeats); holdout: {int(actual.sum())} purchase days",
    ]
    return result


def _lightgbm_row(tx, summ, cal_end, horizon, unit, kw, actual, quick, seed, result) -> Row:
    import lightgbm as lgb

    cal_end_ts = pd.Timestamp(cal_end)
    span_days = (cal_end_ts - pd.Timestamp(tx["ts"].min()).tz_localize(None).floor("D")).days
    h_days = int(min(round(horizon * unit), span_days // 2))
    if h_days < 1:
        raise DataError(f"calibration period of {span_days} days is too short for a training pair")
    train_cut = cal_end_ts - pd.Timedelta(days=h_days)
    feat_kw = {k: v for k, v in kw.items()}
    train = _feature_frame(rfm_features(tx, train_cut, **feat_kw))
    target = rfm_summary(tx, train_cut, cal_end_ts, **feat_kw)["frequency_holdout"].reindex(
        train.index
    )
    test = _feature_frame(rfm_features(tx, cal_end_ts, **feat_kw)).reindex(summ.index)
    cols = list(train.columns)
    params = {
        "objective": "poisson",
        "n_estimators": 100 if quick else 400,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 20,
        "subsample": 0.8,
        "subsample_freq": 1,
        "colsample_bytree": 0.8,
        "random_state": seed,
        "n_jobs": 1,
        "verbose": -1,
    }
    t0 = time.perf_counter()
    model = lgb.LGBMRegressor(**params).fit(train[cols], target.to_numpy(dtype=float))
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    scale = horizon * unit / h_days
    pred = model.predict(test[cols]) * scale
    pred_s = time.perf_counter() - t0
    result.notes.append(
        f"LightGBM: trained on features up to {train_cut.date()} ({len(train)} customers) with target = "
        f"purchase days in the next {h_days} days (to {cal_end_ts.date()}); predictions scaled by {scale:.3f}"
    )
    return Row(
        "LightGBM RFM (poisson)",
        _metrics(pred, actual),
        False,
        fit_s,
        pred_s,
        params,
        {"train_cutoff": str(train_cut.date()), "train_window_days": h_days, "features": cols},
    )


run = clv  # the task entry point that shopml.benchmarks.predict dispatches to
