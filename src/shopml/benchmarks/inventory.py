"""``shopml bench inventory``: base-stock replenishment driven by each forecaster's quantiles
against the ``mean + z x sigma`` rule, replayed over held-out real demand.

Protocol (``--dataset online-retail``; ``--workspace W`` and ``retail-price`` the same way):
weekly units of the 500 best sellers (by units before the test period; as the forecast suite),
periodic review every week, lead time 1 week, lost sales; the last 8 weeks are replayed. For the
review in week ``t`` every forecaster is refitted on the data up to week ``t - 1`` and forecasts
weeks ``t`` and ``t + 1`` (the protection period); the policy orders up to the level whose
expected shortage is at most 5% of a week's expected demand (a 95% fill-rate target), or, as
the ``cycle`` variant, up to the protection-period quantile at 95% (the cycle service level).
The rule: 2 x the 8-week moving average + z x the 26-week standard deviation x sqrt(2), with
``z`` from the same two targets (normal distribution). Every policy starts each item at its own
first level. Results over all items and weeks: fill rate (units served / units demanded),
cycle service (share of weeks with demand and without a stock-out), average units on hand at
the end of a week, and cost (holding 1 per unit-week, lost sale 19 per unit: the 95% critical
ratio).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.forecast import PROTOCOLS, cross_validate, load_panel
from shopml.benchmarks.runner import BenchResult, Row
from shopml.core.errors import ValidationError
from shopml.forecast.base import normalize_freq
from shopml.forecast.data import top_series
from shopml.forecast.forecaster import model_frame
from shopml.inventory.replay import forecast_levels, replay, rule_levels

__all__ = ["run"]

DEFAULT_MODELS = ("seasonal_naive", "auto_ets", "croston", "lightgbm", "deepar", "ensemble")
PEERS = {"SeasonalNaive", "AutoETS", "AutoTheta", "CrostonOptimized", "TSB"}


def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    out: str | Path | None = None,
    models: tuple[str, ...] | list[str] | None = None,
    lead_time: int = 1,
    target: float = 0.95,
    test: int = 8,
    top: int | None = None,
    freq: str | None = None,
    holding: float = 1.0,
    shortage: float = 19.0,
    budget: dict[str, Any] | None = None,
    **_: Any,
) -> BenchResult:
    """Run the inventory suite (see the module docstring); JSON + Markdown to ``out``."""
    import os

    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    if sum(x is not None for x in (dataset, workspace, data)) != 1:
        raise ValidationError("give exactly one of dataset, workspace or data")
    proto = dict(PROTOCOLS.get(dataset or "workspace", PROTOCOLS["workspace"]))
    f = freq or proto["freq"]
    off = pd.tseries.frequencies.to_offset(normalize_freq(f))
    df, _ = load_panel(dataset, workspace, data, f, ())
    df = df[["unique_id", "ds", "y"]]
    n_top = top if top is not None else proto["top"]
    H = lead_time + 1
    first_cutoff = df["ds"].max() - off * (test + 1)
    if n_top:
        df = df[df["unique_id"].isin(top_series(df, int(n_top), until=first_cutoff))]
    span = df.groupby("unique_id")["ds"].agg(["min", "max"])
    ok = span.index[(span["min"] <= first_cutoff - off * 2) & (span["max"] >= df["ds"].max())]
    df = df[df["unique_id"].isin(ok)].reset_index(drop=True)
    names = tuple(models or DEFAULT_MODELS)
    # review weeks: the `test` periods before the last one (the last is the final lead time)
    n_windows = test
    cv, fc = cross_validate(df, names, f, H, n_windows, budget or proto.get("budget"))
    cutoffs = sorted(cv["cutoff"].unique())
    name = dataset or ("workspace" if workspace is not None else Path(str(data)).stem)
    result = BenchResult(
        "inventory",
        name.replace("-", "_"),
        f"{df['unique_id'].nunique()} items, periodic review each period, lead time {lead_time}, "
        "lost "
        f"sales; {len(cutoffs)} reviews after cutoffs "
        f"{pd.Timestamp(cutoffs[0]).date()}..{pd.Timestamp(cutoffs[-1]).date()}; "
        f"forecasters refitted per cutoff; target {target:.0%}; holding {holding}, lost sale "
        f"{shortage} per unit",
    )
    costs = {"holding": holding, "shortage": shortage}
    aliases = [*fc.aliases] + (["Ensemble"] if "Ensemble" in cv.columns else [])
    stats: dict[str, dict[str, float]] = {}
    for service in ("fill_rate", "cycle"):
        rule = rule_levels(df, cutoffs, lead_time, target, service)
        label = f"rule mean + z*sigma ({service.replace('_', ' ')} {target:.0%})"
        stats[label] = _row(
            result,
            label,
            replay(df, rule, normalize_freq(f), lead_time, **costs),
            True,
            {"service": service, "mean_window": 8, "sd_window": 26},
        )
        for alias in aliases:
            lv = forecast_levels(model_frame(cv, alias), lead_time, target, service)
            label = f"base-stock {alias} quantiles ({service.replace('_', ' ')} {target:.0%})"
            stats[label] = _row(
                result,
                label,
                replay(df, lv, normalize_freq(f), lead_time, **costs),
                alias in PEERS,
                {"service": service, "forecaster": alias},
            )
    rule_fr = stats[f"rule mean + z*sigma (fill rate {target:.0%})"]
    rule_cy = stats[f"rule mean + z*sigma (cycle {target:.0%})"]
    meeting = {
        k: v for k, v in stats.items() if k.startswith("base-stock") and v["fill_rate"] >= target
    }
    if meeting:
        best = min(meeting, key=lambda k: meeting[k]["avg_on_hand"])
        b = meeting[best]
        result.notes.append(
            f"lowest stock reaching the {target:.0%} fill rate: {best}: fill rate "
            f"{b['fill_rate']:.4f}, "
            f"{b['avg_on_hand']:.1f} units on hand vs the rule's {rule_cy['avg_on_hand']:.1f} "
            "(cycle, fill "
            f"rate {rule_cy['fill_rate']:.4f}) and {rule_fr['avg_on_hand']:.1f} (fill-rate rule, "
            "fill rate "
            f"{rule_fr['fill_rate']:.4f}): "
            f"{100 * (1 - b['avg_on_hand'] / rule_cy['avg_on_hand']):+.1f}% / "
            f"{100 * (1 - b['avg_on_hand'] / rule_fr['avg_on_hand']):+.1f}% stock"
        )
    else:
        result.notes.append(f"no forecast-driven policy reached the {target:.0%} fill rate")
    result.notes += _frontier(df, cv, cutoffs, aliases, f, lead_time, target, costs)
    if out:  # `shopml bench` writes bench/results/<capability>_<dataset>.json itself
        Path(out).parent.mkdir(parents=True, exist_ok=True)
        result.write(out)
    return result


FRONTIER = (0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995, 0.998)


def _frontier(df, cv, cutoffs, aliases, f, lead_time, target, costs) -> list[str]:
    """Stock against realised fill rate as the policy's target moves (a trade-off curve, not a
    setting chosen on the test weeks): the units on hand each policy needs to *realise* the
    target fill rate, interpolated along its curve."""
    freq = normalize_freq(f)
    curves: dict[str, list[tuple[float, float]]] = {}
    for t in FRONTIER:
        rule = rule_levels(df, cutoffs, lead_time, t, "fill_rate")
        s = replay(df, rule, freq, lead_time, **costs)
        curves.setdefault("rule mean + z*sigma", []).append((s.fill_rate, s.avg_on_hand))
        for alias in aliases:
            lv = forecast_levels(model_frame(cv, alias), lead_time, t, "fill_rate")
            s = replay(df, lv, freq, lead_time, **costs)
            curves.setdefault(f"{alias} quantiles", []).append((s.fill_rate, s.avg_on_hand))
    notes = []
    need: dict[str, float] = {}
    for name, pts in curves.items():
        fr = np.array([p[0] for p in pts])
        oh = np.array([p[1] for p in pts])
        order = np.argsort(fr)
        fr, oh = fr[order], oh[order]
        shown = ", ".join(f"{a:.3f}:{b:.0f}" for a, b in zip(fr, oh, strict=True))
        if fr.max() >= target:
            need[name] = float(np.interp(target, fr, oh))
            notes.append(
                f"trade-off {name} (fill rate: units on hand) {shown}; "
                f"{need[name]:.1f} units on hand to realise {target:.0%}"
            )
        else:
            notes.append(
                f"trade-off {name} (fill rate: units on hand) {shown}; never realises {target:.0%}"
            )
    rule = need.get("rule mean + z*sigma")
    ours = {k: v for k, v in need.items() if k != "rule mean + z*sigma"}
    if ours and rule:
        best = min(ours, key=ours.get)
        notes.append(
            f"at a realised {target:.0%} fill rate: {best} needs {ours[best]:.1f} units on hand, "
            "the rule "
            f"{rule:.1f} ({100 * (1 - ours[best] / rule):+.1f}% stock)"
        )
    return notes


def _row(
    result: BenchResult, label: str, sim, peer: bool, params: dict[str, Any]
) -> dict[str, float]:
    s = sim.summary()
    met = {
        "fill_rate": round(s["fill_rate"], 4),
        "cycle_service": round(s["cycle_service"], 4),
        "avg_on_hand": round(s["avg_on_hand"], 2),
        "total_cost": round(s["total_cost"], 1),
        "holding_cost": round(s["holding_cost"], 1),
        "shortage_cost": round(s["shortage_cost"], 1),
        "stockout_periods": float(s["stockout_periods"]),
    }
    result.rows.append(Row(model=label, metrics=met, peer=peer, params=params))
    return {k: float(v) for k, v in met.items() if np.isfinite(v)}
