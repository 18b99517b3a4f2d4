"""The ``pricing`` pipeline step on a tiny simulated shop (held-out check, registration)."""

from __future__ import annotations

from rich.console import Console

from shopml.core.progress import make_progress
from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.pipeline.config import EvaluateConfig
from shopml.pipeline.pricing import PricingStep, pricing
from shopml.pipeline.steps import StepContext
from shopml.registry import Registry


def test_pricing_step_checks_demand_curves_on_held_out_days_and_registers_the_best(tmp_path):
    sim = simulate(SimConfig(n_users=1500, n_items=25, n_categories=3, days=120, seed=2,
                             session_rate=0.08, impression_share=0.0, price_confounding=1.0))
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        for name in ("items", "prices", "orders"):
            ws.append(name, sim.arrow(name), source="synth")
    registry = Registry(tmp_path / "registry")
    with Workspace(path, read_only=True) as ws, make_progress(transient=True) as progress:
        ctx = StepContext(ws, path, registry, EvaluateConfig(bootstrap=50), "best", "t",
                          progress, Console(quiet=True), {})
        result = pricing(ctx, PricingStep(models=["naive", "controls"], horizon=7))
    names = [row.model for row in result.leaderboard]
    assert names == ["recent mean (baseline)", "naive", "controls"]
    for row in result.leaderboard:
        assert 0 <= row.metrics["holdout_wape"] < 5
    assert result.stats["freq"] == "D" and result.stats["test_periods"] == 28
    best = result.best()
    assert [r["name"] for r in result.registered] == [best.model]
    assert registry.latest("pricing", best.model).config["horizon"] == 7
