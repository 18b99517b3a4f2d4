"""``shopml bench forecast``: every shopml forecaster and the statsforecast baselines on the same
rolling-origin windows.

Protocols (``--dataset``):

- ``online-retail``: weekly units per product (completed order lines; cancellations and returns
  excluded; the partial first and last weeks dropped), the 500 best sellers by units in the
  training part (everything before the last 8 weeks); rolling origin over the last 8 weeks,
  stepping one week, horizon 4: 5 cutoffs whose 4 forecast weeks all lie in the last 8 weeks.
  Season lengths: the data holds 51 complete weeks, and a yearly season (52 weeks) needs at least
  two years for a seasonal model to estimate it, so every model is non-seasonal (season
  length 1); the global models see the calendar (month, week of year) as features.
- ``retail-price``: monthly units per product (52 products, 2017-01 .. 2018-08, series of 5 to
  20 months), rolling origin over the last 6 months stepping one month, horizon 3 (4 cutoffs);
  the global models take the month's own unit price and holiday/weekday counts as exogenous
  (known in advance: the shop sets its price; the calendar is the calendar); season length 1
  (20 months < two years). Bottom-up category and total forecasts of the best shopml model are
  scored too (the data has categories).
- ``--workspace W`` (or ``--data FILE``, a long ``unique_id, ds, y`` frame): the online-retail
  protocol at ``--freq`` (default weekly).

Metrics pooled over windows: MASE and RMSSE scaled by each series' in-sample one-step naive
error on the history before the first cutoff, WAPE, pinball loss at 0.1/0.5/0.9 (divided by the
actual units, like WAPE) and the coverage of the 80% and 95% intervals. Every model is refitted
at every cutoff on the data up to it; the global models choose their rounds / epochs on the
last periods *before* the cutoff. The ensemble is the quantile average of LightGBM and DeepAR,
read off their cross-validation forecasts (same windows, no extra fit).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row
from shopml.benchmarks.workspace import open_workspace
from shopml.core.errors import ValidationError
from shopml.evaluation.forecast import forecast_metrics
from shopml.forecast.base import QUANTILES, check_frame, qcol
from shopml.forecast.data import categories, demand_frame, top_series
from shopml.forecast.forecaster import Forecaster, model_frame

__all__ = ["PROTOCOLS", "load_panel", "run", "cross_validate"]

PROTOCOLS: dict[str, dict[str, Any]] = {
    "online-retail": {
        "freq": "W",
        "h": 4,
        "test": 8,
        "top": 500,
        "exog": (),
        "budget": {"deepar": {"context_length": 16, "epochs": 12, "windows_per_epoch": 1024}},
    },
    "retail-price": {
        "freq": "M",
        "h": 3,
        "test": 6,
        "top": None,
        "exog": ("unit_price", "holiday", "weekday", "weekend"),
        "budget": {
            "deepar": {
                "context_length": 6,
                "epochs": 15,
                "windows_per_epoch": 256,
                "hidden_size": 24,
                "num_layers": 1,
            },
            "lightgbm": {
                "lags": (1, 2, 3, 6),
                "windows": (3, 6),
                "num_leaves": 8,
                "min_child_samples": 5,
                "min_history": 2,
            },
        },
    },
    "workspace": {
        "freq": "W",
        "h": 4,
        "test": 8,
        "top": 500,
        "exog": (),
        "budget": {"deepar": {"context_length": 16, "epochs": 12, "windows_per_epoch": 1024}},
    },
}
STAT_NAMES = ("seasonal_naive", "auto_ets", "auto_theta", "croston", "tsb")
SHOPML_NAMES = ("lightgbm", "deepar", "ensemble")


def load_panel(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    freq: str = "W",
    exog: tuple[str, ...] = (),
) -> tuple[pd.DataFrame, dict[str, str]]:
    """The long demand frame and item categories of a dataset, workspace or file."""
    if data is not None:
        p = Path(data)
        if not p.exists():
            raise ValidationError(f"--data {p} does not exist")
        df = pd.read_parquet(p) if p.suffix == ".parquet" else pd.read_csv(p)
        return check_frame(df, str(p)), {}
    with open_workspace(dataset, workspace) as ws:
        df = demand_frame(ws, freq, exog=exog)
        return df, categories(ws)


def make_models(names: tuple[str, ...], h: int, budget: dict[str, Any] | None = None) -> list:
    from shopml.forecast.train import make_model

    budget = budget or {}
    return [make_model(n, budget.get(n), h) for n in names if n != "ensemble"]


def cross_validate(
    df: pd.DataFrame,
    names: tuple[str, ...],
    freq: str,
    h: int,
    n_windows: int,
    budget: dict[str, Any] | None = None,
) -> tuple[pd.DataFrame, Forecaster]:
    """Cross-validation frame (wide) of the named models; ``ensemble`` added from its members."""
    fc = Forecaster(make_models(names, h, budget), freq=freq)
    cv = fc.cross_validation(df=df, h=h, n_windows=n_windows, step_size=1, level=(80, 95))
    if "ensemble" in names and {"LightGBM", "DeepAR"} <= set(fc.aliases):
        a, b = model_frame(cv, "LightGBM"), model_frame(cv, "DeepAR")
        cv["Ensemble"] = (a["point"] + b["point"]).to_numpy() / 2
        for t in QUANTILES:
            cv[f"Ensemble-{qcol(t)}"] = (a[qcol(t)] + b[qcol(t)]).to_numpy() / 2
        for lv, (lo, hi) in ((80, (0.1, 0.9)), (95, (0.025, 0.975))):
            cv[f"Ensemble-lo-{lv}"] = cv[f"Ensemble-{qcol(lo)}"]
            cv[f"Ensemble-hi-{lv}"] = cv[f"Ensemble-{qcol(hi)}"]
    return cv, fc


def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    out: str | Path | None = None,
    models: tuple[str, ...] | list[str] | None = None,
    freq: str | None = None,
    h: int | None = None,
    top: int | None = None,
    budget: dict[str, Any] | None = None,
    **_: Any,
) -> BenchResult:
    """Run the forecast suite (see the module docstring) and write JSON + Markdown to ``out``
    when given."""
    import os

    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    if sum(x is not None for x in (dataset, workspace, data)) != 1:
        raise ValidationError("give exactly one of dataset, workspace or data")
    key = dataset if dataset in PROTOCOLS else "workspace"
    if dataset is not None and dataset not in PROTOCOLS:
        # any other named dataset runs the generic (workspace) protocol
        key = "workspace"
    proto = dict(PROTOCOLS[key])
    proto["freq"] = freq or proto["freq"]
    proto["h"] = h or proto["h"]
    proto["top"] = top if top is not None else proto["top"]
    H, test = int(proto["h"]), max(int(proto["test"]), int(proto["h"]))
    n_windows = test - H + 1
    df, cats = load_panel(dataset, workspace, data, proto["freq"], tuple(proto["exog"]))
    exog = [c for c in proto["exog"] if c in df.columns]
    df = df[["unique_id", "ds", "y", *exog]]
    off = pd.tseries.frequencies.to_offset(_offset(proto["freq"]))
    first_cutoff = df["ds"].max() - off * test
    if proto["top"]:
        keep = top_series(df, int(proto["top"]), until=first_cutoff)
        df = df[df["unique_id"].isin(keep)]
    # series must have history before the first cutoff and be observed to the end of the test
    span = df.groupby("unique_id")["ds"].agg(["min", "max"])
    ok = span.index[(span["min"] <= first_cutoff - off * 2) & (span["max"] >= df["ds"].max())]
    dropped = df["unique_id"].nunique() - len(ok)
    df = df[df["unique_id"].isin(ok)].reset_index(drop=True)
    names = tuple(models or (*STAT_NAMES, *SHOPML_NAMES))
    cv, fc = cross_validate(df, names, proto["freq"], H, n_windows, budget or proto.get("budget"))
    history = df[df["ds"] <= cv["cutoff"].min()]
    name = dataset or ("workspace" if workspace is not None else Path(str(data)).stem)
    top_note = (
        f" (the {proto['top']} best sellers by units before the test part)" if proto["top"] else ""
    )
    protocol = (
        f"{'weekly' if proto['freq'].startswith('W') else 'monthly'} units per item, "
        f"{df['unique_id'].nunique()} series"
        f"{top_note}; "
        f"rolling origin over the last {test} periods stepping 1, horizon {H} ({n_windows} cutoffs "
        f"{cv['cutoff'].min().date()}..{cv['cutoff'].max().date()}); every model refitted per "
        "cutoff; "
        "MASE/RMSSE scaled by the in-sample one-step naive error; season length 1 (less than two "
        "years of history)" + (f"; exogenous: {', '.join(exog)}" if exog else "")
    )
    result = BenchResult("forecast", name.replace("-", "_"), protocol)
    aliases = [*fc.aliases] + (["Ensemble"] if "Ensemble" in cv.columns else [])
    peer_alias = {"SeasonalNaive", "AutoETS", "AutoTheta", "CrostonOptimized", "TSB"}
    scores: dict[str, dict[str, float]] = {}
    for alias in aliases:
        met = forecast_metrics(model_frame(cv, alias), history)
        scores[alias] = met
        result.rows.append(
            Row(
                model=alias,
                metrics={k: round(v, 4) for k, v in met.items()},
                peer=alias in peer_alias,
                fit_seconds=round(fc.cv_fit_seconds_.get(alias, 0.0), 2)
                if alias in fc.cv_fit_seconds_
                else None,
                predict_seconds=round(fc.cv_predict_seconds_.get(alias, 0.0), 2)
                if alias in fc.cv_predict_seconds_
                else None,
                params=_params(fc, alias),
            )
        )
    if dropped:
        result.notes.append(
            f"{dropped} series left out: no history two periods before the first cutoff, or not "
            "observed to the end"
        )
    result.notes += _verdict(scores, peer_alias)
    if cats and any(c in cats for c in df["unique_id"].unique()):
        result.rows += _hierarchy_rows(cv, df, cats, scores, peer_alias)
    if out:  # `shopml bench` writes bench/results/<capability>_<dataset>.json itself
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        result.write(out)
    return result


def _offset(freq: str) -> str:
    from shopml.forecast.base import normalize_freq

    return normalize_freq(freq)


def _params(fc: Forecaster, alias: str) -> dict[str, Any]:
    for m in fc.models:
        if m.alias == alias:
            return {
                k: (list(v) if isinstance(v, tuple) else v)
                for k, v in m.get_params().items()
                if isinstance(v, int | float | str | bool | tuple)
            }
    return {"members": ["LightGBM", "DeepAR"], "combination": "quantile average"}


def _verdict(scores: dict[str, dict[str, float]], peers: set[str]) -> list[str]:
    ours = {a: s for a, s in scores.items() if a not in peers}
    base = {a: s for a, s in scores.items() if a in peers}
    if not ours or not base:
        return []
    notes = []
    for metric in ("wape", "mase"):
        bo = min(ours, key=lambda a: ours[a][metric])
        bb = min(base, key=lambda a: base[a][metric])
        gain = 1 - ours[bo][metric] / base[bb][metric]
        notes.append(
            f"{metric.upper()}: best shopml model {bo} {ours[bo][metric]:.4f} vs best "
            "statsforecast "
            f"baseline {bb} {base[bb][metric]:.4f}: {100 * gain:+.1f}% "
            f"({'meets' if gain >= 0.10 else 'misses'} the 10% target)"
        )
    return notes


def _hierarchy_rows(
    cv: pd.DataFrame,
    df: pd.DataFrame,
    cats: dict[str, str],
    scores: dict[str, dict[str, float]],
    peers: set[str],
) -> list[Row]:
    """Bottom-up category and total forecasts of the best shopml model and the best baseline."""
    from shopml.forecast.hierarchy import aggregate_actuals, bottom_up

    rows = []
    actual = aggregate_actuals(df, cats)
    hist = actual[actual["ds"] <= cv["cutoff"].min()]
    picks = [
        min((a for a in scores if a not in peers), key=lambda a: scores[a]["wape"], default=None),
        min((a for a in scores if a in peers), key=lambda a: scores[a]["wape"], default=None),
    ]
    for alias in [p for p in picks if p]:
        agg = bottom_up(model_frame(cv, alias).drop(columns=["y"]), cats)
        agg = agg.merge(actual, on=["unique_id", "ds"], how="inner")
        for level in ("category", "total"):
            part = agg[agg["level"] == level].copy()
            part["lo-80"], part["hi-80"] = part[qcol(0.1)], part[qcol(0.9)]
            met = forecast_metrics(part, hist, levels=(80,))
            rows.append(
                Row(
                    model=f"{alias} bottom-up @{level}",
                    metrics={k: round(v, 4) for k, v in met.items() if np.isfinite(v)},
                    peer=alias in peers,
                    params={"reconciliation": "bottom-up"},
                )
            )
    return rows
