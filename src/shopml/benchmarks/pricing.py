"""``shopml bench pricing``: elasticity error, optimised profit and dynamic-pricing regret.

Protocols:

- ``--dataset synthetic`` (truth known): the shop simulator with confounded prices
  (:data:`SIM`: 60 items, 300,000 customers, two years; regular prices follow the anticipated
  demand with strength 1.5, so a naive regression is biased; ``--quick``: a smaller shop).
  The simulated tables go through the same workspace path as any shop
  (orders + prices + items -> daily panel). Reported:

  1. elasticity: MAE and mean bias against the true per-item elasticities, and the coverage of
     the 95% intervals, for naive log-log, log-log with controls and DML, each per item and
     partially pooled by category;
  2. optimisation: every model's planned prices (one day's horizon, ladder 0.7-1.3 x the current
     price in 13 steps, at most 30% change, margin >= 10% over the true unit cost) evaluated on
     the *true* demand curve (the same base level, the true elasticity), as a share of the
     oracle's profit (the same program solved with the true elasticities); "current prices" is
     the do-nothing baseline. The MILP's solve time on 1,000 products x 10 prices with a markdown
     budget per category is measured here too;
  3. dynamic pricing: Thompson sampling with inventory (TS-update and TS-fixed, Ferreira et al.
     2018) against the fixed current price and a greedy learner, on the simulator's demand curve
     (Poisson units at rate base_i (p/p0_i)^eps_i per day) for every simulated item over 180 days
     with stock for 60% of the list-price demand; cumulative regret against the fluid LP bound,
     averaged over 3 seeds.

- ``--dataset retail-price`` / ``online-retail`` / ``--workspace W``: no truth, so the estimated
  elasticities themselves: per model, the share of products with the expected (negative) sign,
  the share whose 95% interval lies below zero, the median and the median interval width, and a
  held-out check of each model's demand curve: units of the last ``test`` periods predicted at
  their actual prices from a fit on the periods before (WAPE; "recent mean" is the no-price
  baseline). ``online-retail`` has no price history: its price is the unit price paid, and weeks
  without sales are missing (a product that did not sell is not in the panel that week).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row
from shopml.core.errors import ValidationError
from shopml.pricing import MODELS
from shopml.pricing.data import panel_from_workspace
from shopml.pricing.dynamic import simulate_policy
from shopml.pricing.optimise import PriceLadder, optimise_prices

SIM: dict[str, Any] = dict(
    n_users=300_000,
    n_items=60,
    n_categories=6,
    days=730,
    seed=1,
    price_confounding=1.5,
    price_change_rate=0.1,
    promo_share=0.3,
    impression_share=0.0,
    fraud_rate=0.0,
    search_share=0.0,
)
QUICK_SIM = dict(SIM, n_users=40_000, n_items=30, days=240)
REAL = {"retail-price": {"freq": "M", "test": 3, "top": None},
        "online-retail": {"freq": "W", "test": 8, "top": 300}}
LADDER = PriceLadder(0.7, 1.3, 13)
MAX_CHANGE, MIN_MARGIN = 0.3, 0.1
VARIANTS = [(m, pooling) for m in ("naive", "controls", "dml") for pooling in ("item", "partial")]


def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    data: Any = None,
    out: str | Path | None = None,
    quick: bool = False,
    **options: Any,
) -> BenchResult:
    """Run the pricing suite (see the module docstring); ``out`` writes JSON + Markdown."""
    import os

    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    if (dataset is None) == (workspace is None):
        raise ValidationError("give exactly one of dataset or workspace")
    if dataset == "synthetic":
        result = synthetic(quick=quick, **options)
    else:
        result = real(dataset, workspace, quick=quick, **options)
    if out is not None:
        result.write(out)
    return result


# --------------------------------------------------------------------------- synthetic


def synthetic(quick: bool = False, seeds: int = 3, **sim_overrides: Any) -> BenchResult:
    """The simulator protocol (truth known)."""
    from shopml.data.synth import SimConfig, simulate
    from shopml.data.workspace import Workspace

    cfg = SimConfig(**{**(QUICK_SIM if quick else SIM), **sim_overrides})
    t0 = time.perf_counter()
    shop = simulate(cfg)
    sim_s = time.perf_counter() - t0
    with Workspace(":memory:") as ws:
        for name in ("items", "prices", "orders"):
            ws.append(name, shop.arrow(name), source="synth")
        panel = panel_from_workspace(ws, "D")
    truth = shop.truth
    true_eps = pd.Series(truth.elasticity, index=truth.item_id.astype(str))
    true_cost = pd.Series(truth.cost, index=truth.item_id.astype(str))
    result = BenchResult(
        "pricing", "synthetic",
        f"simulated shop ({cfg.n_items} items, {cfg.n_users} users, {cfg.days} days, "
        f"price_confounding={cfg.price_confounding}); daily panel from orders + prices; truth "
        "from the simulator",
    )
    result.notes.append(
        f"simulated in {sim_s:.0f} s: {len(shop.orders)} order lines, "
        f"{panel['y'].mean():.2f} units per item and day, true elasticities "
        f"{true_eps.min():.2f} .. {true_eps.max():.2f} (mean {true_eps.mean():.2f})"
    )
    fitted: dict[str, Any] = {}
    for name, pooling in VARIANTS:
        t = time.perf_counter()
        model = MODELS[name](pooling=pooling).fit(panel)
        fit_s = time.perf_counter() - t
        e = model.elasticities().set_index("unique_id")
        truth_i = true_eps[e.index]
        err = e["elasticity"] - truth_i
        cover = ((e["lower"] <= truth_i) & (truth_i <= e["upper"])).mean()
        result.rows.append(Row(
            f"{name} ({pooling})",
            {"elasticity_mae": float(err.abs().mean()), "elasticity_bias": float(err.mean()),
             "coverage95": float(cover), "median_se": float(e["se"].median())},
            fit_seconds=round(fit_s, 2), params=model.get_params(),
        ))
        fitted[f"{name} ({pooling})"] = model
    _optimisation(result, fitted, true_eps, true_cost)
    result.rows.append(_milp_timing(cfg))
    _dynamic(result, truth, seeds=1 if quick else seeds, periods=90 if quick else 180)
    return result


def _optimisation(result: BenchResult, fitted: dict, true_eps: pd.Series, cost: pd.Series) -> None:
    """Each model's plan, and the oracle's, valued on the true demand curve."""
    any_model = next(iter(fitted.values()))
    e0 = any_model.elasticities()
    ids = e0["unique_id"].to_numpy()
    current = e0["ref_price"].to_numpy()
    base = e0["base_units"].to_numpy()
    P = LADDER.prices(current)
    c = cost[ids].to_numpy()
    eps = true_eps[ids].to_numpy()
    Q_true = base[:, None] * (P / current[:, None]) ** eps[:, None]
    kw = dict(cost=c, min_margin=MIN_MARGIN, max_change=MAX_CHANGE)
    oracle = optimise_prices(current, P, Q_true, **kw)
    k_now = np.argmin(np.abs(P - current[:, None]), axis=1)
    rows = np.arange(ids.size)

    def true_profit(price: np.ndarray) -> float:
        q = base * (price / current) ** eps
        return float(((price - c) * q).sum())

    best = true_profit(oracle["price"].to_numpy())
    result.rows.append(Row("current prices (baseline)", {
        "profit_share_of_oracle": true_profit(P[rows, k_now]) / best}))
    for label, model in fitted.items():
        Q = model.predict_units(ids, P)
        t = time.perf_counter()
        plan = optimise_prices(current, P, Q, **kw)
        solve = time.perf_counter() - t
        result.rows.append(Row(f"optimised with {label}", {
            "profit_share_of_oracle": true_profit(plan["price"].to_numpy()) / best,
            "mean_abs_price_change": float(plan["change"].abs().mean()),
        }, predict_seconds=round(solve, 3)))
    result.notes.append(
        f"optimisation: ladder {LADDER.low}-{LADDER.high} x current ({LADDER.n_points} steps), "
        f"max change {MAX_CHANGE:.0%}, min margin {MIN_MARGIN:.0%} over the true cost; oracle "
        f"binding constraints: {oracle['binding'].value_counts().to_dict()}"
    )


def _milp_timing(cfg: Any) -> Row:
    """Solve time of the MILP on 1,000 products x 10 prices with a budget per category."""
    from shopml.data.synth.catalogue import make_catalogue
    from shopml.data.synth.config import SimConfig

    cat = make_catalogue(SimConfig(n_items=1000, n_categories=12, seed=7),
                         np.random.default_rng(7))
    rng = np.random.default_rng(7)
    P = LADDER.__class__(0.75, 1.25, 9).prices(cat.base_price)[:, :10]
    Q = rng.uniform(1, 30, 1000)[:, None] * (P / cat.base_price[:, None]) ** cat.elasticity[:, None]
    names = cat.cat_names[cat.category].astype(str)
    free = optimise_prices(cat.base_price, P, Q, cost=cat.cost, min_margin=MIN_MARGIN)
    spend = (np.maximum(cat.base_price - free["price"], 0) * free["units"]).groupby(names).sum()
    budget = {k: 0.5 * float(v) for k, v in spend.items()}  # half of what they would spend
    t = time.perf_counter()
    plan = optimise_prices(cat.base_price, P, Q, cost=cat.cost, min_margin=MIN_MARGIN,
                           max_change=0.2, category=names, category_budget=budget)
    solve = time.perf_counter() - t
    return Row("MILP 1000 products x 10 prices, category budgets", {
        "solve_seconds": solve,
        "budget_binding_products": float((plan["binding"] == "category_budget").sum()),
    }, predict_seconds=round(solve, 3))


def _dynamic(result: BenchResult, truth: Any, seeds: int, periods: int) -> None:
    """TS with inventory against fixed and greedy on the simulator's demand curve."""
    p0, eps, base = truth.base_price, truth.elasticity, truth.base_demand
    keep = base > 0.05  # items that sell at least one unit every 20 days at list price
    p0, eps, base, cost = p0[keep], eps[keep], base[keep], truth.cost[keep]
    mult = np.linspace(0.7, 1.3, 7)
    P = p0[:, None] * mult
    rates = base[:, None] * mult[None, :] ** eps[:, None]
    stock = 0.6 * base * periods
    now = np.full(p0.size, 3)  # the list price
    curves: dict[str, list[np.ndarray]] = {}
    totals: dict[str, list[float]] = {}
    bound = 0.0
    for seed in range(seeds):
        for policy in ("ts_update", "ts_fixed", "greedy", "fixed"):
            run = simulate_policy(policy, P, rates, stock, periods, cost=cost, current=now,
                                  seed=seed)
            curves.setdefault(policy, []).append(run.regret)
            totals.setdefault(policy, []).append(run.total)
            bound = run.bound_per_period.sum() * periods
    for policy, regs in curves.items():
        reg = np.mean(regs, axis=0)
        q = [periods // 4 - 1, periods // 2 - 1, periods - 1]
        result.rows.append(Row(f"dynamic: {policy}", {
            "share_of_fluid_bound": float(np.mean(totals[policy]) / bound),
            f"regret@{q[0] + 1}": float(reg[q[0]]),
            f"regret@{q[1] + 1}": float(reg[q[1]]),
            f"regret@{q[2] + 1}": float(reg[q[2]]),
        }, peer=False, params={"periods": periods, "seeds": seeds}))
    result.notes.append(
        f"dynamic pricing: {int(keep.sum())} items, 7 prices 0.7-1.3 x list, {periods} days, "
        f"stock 60% of list-price demand, margin reward over the true cost; regret against the "
        f"fluid LP bound ({bound:,.0f} over the horizon), mean of {seeds} seed(s)"
    )


# --------------------------------------------------------------------------- real data


def real(
    dataset: str | None, workspace: str | Path | None, quick: bool = False,
    freq: str | None = None, test: int | None = None, top: int | None = None,
) -> BenchResult:
    """Estimated elasticities with intervals, and a held-out check of the demand curves."""
    from shopml.benchmarks.workspace import open_workspace
    from shopml.pricing.train import choose_freq

    proto = REAL.get(dataset or "", {"freq": None, "test": None, "top": 500})
    with open_workspace(dataset, workspace) as ws:
        f = freq or proto["freq"] or choose_freq(ws)
        panel = panel_from_workspace(ws, f)
    test = int(test or proto["test"] or {"D": 28, "W": 8, "M": 3}[f])
    top = top if top is not None else proto["top"]
    if top:
        best = panel.groupby("unique_id")["y"].sum().nlargest(int(top)).index
        panel = panel[panel["unique_id"].isin(best)]
    name = dataset or Path(str(workspace)).stem
    result = BenchResult(
        "pricing", name,
        f"panel at freq {f}: {panel['unique_id'].nunique()} products, {len(panel)} rows"
        f"{f' (top {top} by units)' if top else ''}; elasticities fitted on everything; "
        f"held-out check: the last {test} periods predicted from a fit on the periods before",
    )
    periods = np.sort(panel["ds"].unique())
    if periods.size <= test + 2:
        raise ValidationError(f"{name}: {periods.size} periods; need more than {test + 2}")
    cut = periods[-test]
    train, hold = panel[panel["ds"] < cut], panel[panel["ds"] >= cut]
    for model_name in ("naive", "controls", "dml"):
        t = time.perf_counter()
        model = MODELS[model_name](pooling="partial").fit(panel)
        fit_s = time.perf_counter() - t
        e = model.elasticities()
        held = MODELS[model_name](pooling="partial").fit(train)
        known = hold[hold["unique_id"].isin(held.item_ids_)]
        pred = held.predict_units(known["unique_id"].to_numpy(), known["price"].to_numpy())
        wape = float(np.abs(pred - known["y"]).sum() / max(known["y"].sum(), 1e-12))
        result.rows.append(Row(f"{model_name} (partial)", {
            "negative_share": float((e["elasticity"] < 0).mean()),
            "significant_negative_share": float((e["upper"] < 0).mean()),
            "significant_positive_share": float((e["lower"] > 0).mean()),
            "median_elasticity": float(e["elasticity"].median()),
            "median_interval_width": float((e["upper"] - e["lower"]).median()),
            "holdout_wape": wape,
        }, fit_seconds=round(fit_s, 2), params=model.get_params(),
            extra={"elasticities": _top_rows(e)}))
    # the no-price baseline for the held-out check: each product's recent mean
    recent = train.groupby("unique_id").tail(model.recent_periods or {"D": 28, "W": 8, "M": 3}[f])
    mean = recent.groupby("unique_id")["y"].mean()
    known = hold[hold["unique_id"].isin(mean.index)]
    wape = float(np.abs(known["unique_id"].map(mean) - known["y"]).sum() / known["y"].sum())
    result.rows.append(Row("recent mean (baseline)", {"holdout_wape": wape}))
    return result


def _top_rows(e: pd.DataFrame, n: int = 20) -> list[dict[str, Any]]:
    """The best-selling products' estimates with intervals (for the JSON record)."""
    top = e.nlargest(n, "units")
    return [
        {"item_id": str(r.unique_id), "category": str(r.category),
         "elasticity": round(float(r.elasticity), 4), "lower": round(float(r.lower), 4),
         "upper": round(float(r.upper), 4), "units": float(r.units)}
        for r in top.itertuples(index=False)
    ]
