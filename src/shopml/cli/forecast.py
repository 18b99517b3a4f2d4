"""`shopml forecast`, `shopml replenish` and `shopml train forecast`."""

from __future__ import annotations

from pathlib import Path

import typer

from shopml.cli.app import (
    REGISTRY_OPT,
    WORKSPACE_OPT,
    app,
    console,
    fail,
    parse_options,
    say,
    train_app,
)
from shopml.core.errors import ShopMLError

MODEL_HELP = (
    "seasonal_naive, auto_ets, auto_theta, croston, tsb (statsforecast), lightgbm, deepar, "
    "ensemble."
)


def _fit_forecast(
    workspace: Path, model: str, h: int, freq: str, source: str, top: int | None, params: str | None
):
    from shopml.data.workspace import Workspace
    from shopml.forecast.data import demand_frame, top_series
    from shopml.forecast.train import make_model

    if not workspace.exists():
        raise ShopMLError(f"workspace {workspace} does not exist")
    with Workspace(workspace, read_only=True) as ws:
        df = demand_frame(ws, freq, source=source)  # type: ignore[arg-type]
    if top:
        df = df[df["unique_id"].isin(top_series(df, top))]
    m = make_model(model, parse_options(params, "params"), h)
    with console.status(f"fitting {model} on {df['unique_id'].nunique()} series"):
        m.fit(df, freq)
    return m, df


@app.command("forecast")
def forecast_cmd(
    workspace: Path = WORKSPACE_OPT,
    h: int = typer.Option(4, "--h", min=1, help="Periods ahead."),
    freq: str = typer.Option("W", "--freq", help="W (weeks from Monday) or M (months)."),
    model: str = typer.Option("lightgbm", "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(
        Path("forecast.parquet"), "--out", help="Parquet (or .csv) of the forecasts."
    ),
    source: str = typer.Option("auto", help="Demand from orders, sales, or auto."),
    top: int | None = typer.Option(None, help="Only the N best-selling items."),
    params: str | None = typer.Option(None, help="Model hyper-parameters as k=v,..."),
) -> None:
    """Forecast units per item: point, quantiles 0.025..0.975 and 80/95% intervals per period."""
    from shopml.forecast.base import level_quantiles, qcol

    try:
        m, df = _fit_forecast(workspace, model, h, freq, source, top, params)
        fc = m.predict(h)
        for lv in (80, 95):
            lo, hi = level_quantiles(lv)
            fc[f"lo-{lv}"], fc[f"hi-{lv}"] = fc[qcol(lo)], fc[qcol(hi)]
        out.parent.mkdir(parents=True, exist_ok=True)
        fc.to_csv(out, index=False) if out.suffix == ".csv" else fc.to_parquet(out, index=False)
    except ShopMLError as exc:
        fail(exc)
    say.print(
        f"wrote {len(fc)} forecasts ({fc['unique_id'].nunique()} items x {h} periods, {model}) to "
        f"{out}"
    )


@app.command("replenish")
def replenish_cmd(
    workspace: Path = WORKSPACE_OPT,
    lead_time: int = typer.Option(
        1, "--lead-time", min=0, help="Periods between ordering and receiving."
    ),
    target: float = typer.Option(0.95, "--target", help="Service-level target in (0, 1)."),
    service: str = typer.Option(
        "fill_rate", "--service", help="fill_rate or cycle (service level)."
    ),
    policy: str = typer.Option("base_stock", "--policy", help="base_stock or sS."),
    order_cost: float = typer.Option(0.0, "--order-cost", help="Fixed cost per order ((s, S))."),
    holding: float = typer.Option(1.0, help="Holding cost per unit and period."),
    shortage: float = typer.Option(19.0, help="Cost per unit of lost sales."),
    freq: str = typer.Option("W", "--freq", help="W or M."),
    model: str = typer.Option("lightgbm", "--model", "-m", help=MODEL_HELP),
    out: Path = typer.Option(
        Path("replenishment.csv"), "--out", help="CSV (or .parquet) of orders."
    ),
    source: str = typer.Option("auto", help="Demand from orders, sales, or auto."),
    top: int | None = typer.Option(None, help="Only the N best-selling items."),
) -> None:
    """Order quantities per item now: forecast lead time + 1 periods, set the policy's levels,
    subtract the stock on hand (the workspace's latest ``inventory`` row per item; 0 if none)."""
    from shopml.data.workspace import Workspace
    from shopml.inventory import ReplenishmentPolicy, replenishment

    try:
        pol = ReplenishmentPolicy(
            policy=policy,
            lead_time=lead_time,
            target=target,
            service=service,  # type: ignore[arg-type]
            holding=holding,
            shortage=shortage,
            order_cost=order_cost,
        )
        m, _ = _fit_forecast(workspace, model, lead_time + 1, freq, source, top, None)
        with Workspace(workspace, read_only=True) as ws:
            stock = ws.sql(
                "SELECT item_id AS unique_id, arg_max(on_hand, date) AS on_hand FROM inventory "
                "GROUP BY 1"
            )
        plan = replenishment(m, pol, stock if len(stock) else None)
        out.parent.mkdir(parents=True, exist_ok=True)
        plan.to_parquet(out, index=False) if out.suffix == ".parquet" else plan.to_csv(
            out, index=False
        )
    except ShopMLError as exc:
        fail(exc)
    say.print(
        f"wrote orders for {len(plan)} items to {out}: {int((plan['order_qty'] > 0).sum())} to "
        "order, "
        f"{plan['order_qty'].sum():.0f} units ({policy}, {service} {target:.0%}, lead time "
        f"{lead_time})"
    )


@train_app.command("forecast")
def train_forecast(
    model: str = typer.Option("lightgbm", "--model", "-m", help=MODEL_HELP),
    workspace: Path = WORKSPACE_OPT,
    registry: Path = REGISTRY_OPT,
    h: int = typer.Option(8, "--h", min=1, help="Periods ahead to register."),
    freq: str = typer.Option("W", "--freq", help="W or M."),
    source: str = typer.Option("auto", help="Demand from orders, sales, or auto."),
    top: int | None = typer.Option(None, help="Only the N best-selling items."),
    params: str | None = typer.Option(None, help="Model hyper-parameters as k=v,..."),
    backtest: bool = typer.Option(
        True, help="Score the model on the last h periods first (metrics in meta.json)."
    ),
) -> None:
    """Fit a forecaster and register its forecasts (Parquet) and parameters (JSON) as "
    "forecast/<model>."""
    from shopml.forecast.train import train

    try:
        with console.status(f"training {model}"):
            mv = train(
                workspace,
                registry,
                model,
                h=h,
                freq=freq,
                source=source,
                top=top,
                backtest=backtest,
                params=parse_options(params, "params"),
            )
    except ShopMLError as exc:
        fail(exc)
    met = mv.metrics
    shown = ", ".join(f"{k} {v}" for k, v in met.items() if k in ("wape", "mase", "coverage@80"))
    say.print(
        f"registered forecast/{model} {mv.version} at {mv.path} ({mv.config.get('series')} series, "
        f"h={h}){': backtest ' + shown if shown else ''}"
    )
