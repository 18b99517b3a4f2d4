"""Train an elasticity model on a workspace, plan prices, and register both for serving.

A registered pricing version holds the fitted model (``model/``: JSON + ``arrays.npz``), the
per-product elasticities with intervals (``elasticities.parquet``) and the recommended prices
with their expected units, profit and binding constraint (``prices.parquet``), so the service
answers ``/v1/prices`` from the files without refitting anything.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_bytes
from shopml.pricing import MODELS
from shopml.pricing.base import ElasticityModel
from shopml.pricing.data import panel_from_workspace
from shopml.pricing.optimise import PriceLadder
from shopml.pricing.plan import price_plan

PLAN_OPTIONS = ("horizon", "min_margin", "max_change", "ladder_low", "ladder_high", "ladder_points")


def model_class(name: str) -> type[ElasticityModel]:
    """The elasticity model registered under ``name``."""
    if name not in MODELS:
        raise ValidationError(f"unknown pricing model {name!r}; choose one of {sorted(MODELS)}")
    return MODELS[name]


def choose_freq(ws: Any) -> str:
    """Daily where the shop keeps daily prices, monthly for monthly exports, weekly otherwise."""
    if ws.count("prices"):
        gap = ws.sql(
            "SELECT median(d) AS g FROM (SELECT date - lag(date) OVER "
            "(PARTITION BY item_id ORDER BY date) AS d FROM prices) WHERE d IS NOT NULL"
        )["g"].iloc[0]
        if pd.notna(gap):
            return "D" if float(gap) <= 1.5 else "W" if float(gap) <= 10 else "M"
    return "W"


def stock_on_hand(ws: Any) -> dict[str, float] | None:
    """The latest ``inventory.on_hand`` per product, if the shop exports stock levels."""
    try:
        if not ws.count("inventory"):
            return None
        inv = ws.sql(
            "SELECT item_id, arg_max(on_hand, date) AS on_hand FROM inventory GROUP BY item_id"
        )
    except Exception:  # noqa: BLE001 - a workspace without the table: no capacity limit
        return None
    return dict(zip(inv["item_id"].astype(str), inv["on_hand"].astype(float), strict=True))


def plan_kwargs(options: dict[str, Any]) -> dict[str, Any]:
    """Price-program settings from train/CLI options (defaults as in :func:`price_plan`)."""
    return {
        "ladder": PriceLadder(
            float(options.get("ladder_low", 0.8)),
            float(options.get("ladder_high", 1.2)),
            int(options.get("ladder_points", 9)),
        ),
        "horizon": int(options.get("horizon", 1)),
        "min_margin": options.get("min_margin", 0.0),
        "max_change": options.get("max_change", 0.15),
    }


def train(workspace: Any, registry: Any, model: str = "dml", **options: Any) -> Any:
    """Fit ``model`` (``naive``, ``controls``, ``dml``) on the workspace, plan prices, register
    under ``pricing/<model>``. ``options``: ``freq`` (``D``/``W``/``M``, default by the data),
    the model's parameters (``params={...}``), and the plan's (:data:`PLAN_OPTIONS`,
    ``category_budget``)."""
    from shopml.data.workspace import Workspace
    from shopml.registry import Registry

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    own = not isinstance(workspace, Workspace)
    ws = Workspace(workspace, read_only=True) if own else workspace
    try:
        freq = options.get("freq") or choose_freq(ws)
        panel = panel_from_workspace(ws, freq)
        capacity = stock_on_hand(ws)
        fingerprint = {t: ws.fingerprint(t) for t in ("orders", "sales", "prices") if ws.count(t)}
    finally:
        if own:
            ws.close()
    est = model_class(model)(**dict(options.get("params") or {}))
    t0 = time.perf_counter()
    est.fit(panel)
    fit_s = time.perf_counter() - t0
    kw = plan_kwargs(options)
    plan = price_plan(
        est, capacity=capacity, category_budget=options.get("category_budget"), **kw
    )
    elastic = est.elasticities()

    def write(folder: Path) -> None:
        est.save(folder / "model")
        atomic_write_bytes(folder / "elasticities.parquet", _parquet(elastic))
        atomic_write_bytes(folder / "prices.parquet", _parquet(plan))

    lift = plan["profit"].sum() / max(plan["current_profit"].sum(), 1e-12) - 1
    return reg.register(
        "pricing",
        model,
        write,
        config={
            "model": model,
            "params": est.get_params(),
            "freq": freq,
            "horizon": kw["horizon"],
            "min_margin": kw["min_margin"],
            "max_change": kw["max_change"],
            "ladder": [kw["ladder"].low, kw["ladder"].high, kw["ladder"].n_points],
            "category_budget": options.get("category_budget") or {},
            "capacity_from_inventory": capacity is not None,
        },
        metrics={
            "fit_seconds": round(fit_s, 3),
            "products": int(len(elastic)),
            "negative_share": float((elastic["elasticity"] < 0).mean()),
            "significant_negative_share": float((elastic["upper"] < 0).mean()),
            "median_elasticity": float(elastic["elasticity"].median()),
            "expected_profit_lift": float(lift) if pd.notna(lift) else 0.0,
        },
        data_fingerprint=fingerprint,
    )


@dataclass
class ServedPricing:
    """What the service keeps for a registered pricing version (read from its files)."""

    model: ElasticityModel
    elasticities: pd.DataFrame
    prices: pd.DataFrame
    config: dict[str, Any]
    version: str


def load(version: Any, ctx: Any = None) -> ServedPricing:
    """Read a registered version's model, elasticities and planned prices (no refitting)."""
    return ServedPricing(
        model=ElasticityModel.load(Path(version.path) / "model"),
        elasticities=pd.read_parquet(version.file("elasticities.parquet")),
        prices=pd.read_parquet(version.file("prices.parquet")),
        config=dict(version.config),
        version=str(version.version),
    )


def _parquet(frame: pd.DataFrame) -> bytes:
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return buf.getvalue()
