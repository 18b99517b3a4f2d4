"""``shopml price`` (recommended prices to a file) and ``shopml train pricing``."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from shopml.cli.app import REGISTRY_OPT, WORKSPACE_OPT, app, fail, say, train_app
from shopml.core.errors import ShopMLError


def _budget(text: str | None) -> dict[str, float] | None:
    """``--category-budget kitchen=500,garden=200`` -> {"kitchen": 500.0, ...}."""
    if not text:
        return None
    out: dict[str, float] = {}
    for part in text.split(","):
        name, sep, value = part.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            sep = ""
        if not sep or not name.strip():
            raise ShopMLError(f"--category-budget: {part!r} is not CATEGORY=AMOUNT")
    return out


def _options(
    freq: str | None, horizon: int, min_margin: float, max_change: float, low: float,
    high: float, points: int, category_budget: str | None,
) -> dict:
    return {
        "freq": freq, "horizon": horizon, "min_margin": min_margin, "max_change": max_change,
        "ladder_low": low, "ladder_high": high, "ladder_points": points,
        "category_budget": _budget(category_budget),
    }


FREQ_OPT = typer.Option(
    None, "--freq", help="Period: D, W or M (default: from the price history)."
)
HORIZON_OPT = typer.Option(1, "--horizon", help="Periods the prices are planned for.")
MARGIN_OPT = typer.Option(
    0.0, "--min-margin", help="Minimum (price - cost) / price where costs are known."
)
CHANGE_OPT = typer.Option(
    0.15, "--max-change", help="Largest relative change from the current price."
)
LOW_OPT = typer.Option(0.8, "--ladder-low", help="Lowest ladder price (x the current price).")
HIGH_OPT = typer.Option(1.2, "--ladder-high", help="Highest ladder price (x the current price).")
POINTS_OPT = typer.Option(9, "--ladder-points", help="Prices on the ladder.")
BUDGET_OPT = typer.Option(
    None, "--category-budget", help="Markdown budget per category: CAT=AMOUNT,..."
)
MODEL_OPT = typer.Option("dml", "--model", "-m", help="Elasticity model: naive, controls, dml.")


@train_app.command("pricing")
def train_pricing(
    model: str = MODEL_OPT,
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    params: str | None = typer.Option(
        None, help='Model parameters as JSON (e.g. \'{"pooling": "item"}\').'
    ),
    freq: str | None = FREQ_OPT,
    horizon: int = HORIZON_OPT,
    min_margin: float = MARGIN_OPT,
    max_change: float = CHANGE_OPT,
    ladder_low: float = LOW_OPT,
    ladder_high: float = HIGH_OPT,
    ladder_points: int = POINTS_OPT,
    category_budget: str | None = BUDGET_OPT,
) -> None:
    """Estimate elasticities, plan prices, register both as pricing/<model>."""
    from shopml.pricing.train import train

    try:
        if not workspace.exists():
            raise ShopMLError(f"workspace {workspace} does not exist")
        opts = _options(freq, horizon, min_margin, max_change, ladder_low, ladder_high,
                        ladder_points, category_budget)
        parsed = json.loads(params) if params else None
        mv = train(workspace, registry, model, params=parsed, **opts)
    except (ShopMLError, ValueError) as exc:
        fail(exc)
        return
    m = mv.metrics
    say.print(
        f"registered pricing/{model} {mv.version}: {m['products']} products, median elasticity "
        f"{m['median_elasticity']:.2f}, {100 * m['negative_share']:.0f}% negative, expected "
        f"profit {100 * m['expected_profit_lift']:+.1f}% at the planned prices"
    )


@app.command("price")
def price_cmd(
    workspace: Path = WORKSPACE_OPT,
    out: Path = typer.Option(
        Path("prices.csv"), "--out", "-o", help="CSV (or .parquet) to write."
    ),
    model: str = MODEL_OPT,
    freq: str | None = FREQ_OPT,
    horizon: int = HORIZON_OPT,
    min_margin: float = MARGIN_OPT,
    max_change: float = CHANGE_OPT,
    ladder_low: float = LOW_OPT,
    ladder_high: float = HIGH_OPT,
    ladder_points: int = POINTS_OPT,
    category_budget: str | None = BUDGET_OPT,
) -> None:
    """Fit elasticities on the workspace and write a recommended price per item to ``--out``."""
    from shopml.data import Workspace
    from shopml.pricing.data import panel_from_workspace
    from shopml.pricing.plan import price_plan
    from shopml.pricing.train import choose_freq, model_class, plan_kwargs, stock_on_hand

    try:
        if not workspace.exists():
            raise ShopMLError(f"workspace {workspace} does not exist")
        opts = _options(freq, horizon, min_margin, max_change, ladder_low, ladder_high,
                        ladder_points, category_budget)
        with Workspace(workspace, read_only=True) as ws:
            f = freq or choose_freq(ws)
            panel = panel_from_workspace(ws, f)
            stock = stock_on_hand(ws)
        est = model_class(model)().fit(panel)
        plan = price_plan(est, capacity=stock, category_budget=opts["category_budget"],
                          **plan_kwargs(opts))
        plan = plan.rename(columns={"unique_id": "item_id"})
        out.parent.mkdir(parents=True, exist_ok=True)
        if out.suffix == ".parquet":
            plan.to_parquet(out, index=False)
        else:
            plan.to_csv(out, index=False)
    except (ShopMLError, ValueError) as exc:
        fail(exc)
        return
    moved = int((plan["price"] != plan["current_price"]).sum())
    gain = plan["profit"].sum() - plan["current_profit"].sum()
    say.print(
        f"wrote {len(plan)} prices to {out} ({moved} changed; expected profit "
        f"{gain:+,.2f} per {horizon} period(s) of {f}); binding: "
        + ", ".join(f"{k} {v}" for k, v in plan["binding"].value_counts().items())
    )
