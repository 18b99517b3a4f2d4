"""Replenishment: newsvendor, base-stock and (s, S) policies driven by forecast quantiles, and a
simulator that replays a policy over held-out real demand."""

from shopml.inventory.policies import (
    base_stock_levels,
    critical_ratio,
    expected_shortage,
    fill_rate_level,
    newsvendor_normal,
    protection_quantiles,
    quantile_at,
)
from shopml.inventory.replenish import ReplenishmentPolicy, as_quantile_frame, replenishment
from shopml.inventory.simulate import SimulationResult, simulate

__all__ = [
    "ReplenishmentPolicy",
    "SimulationResult",
    "as_quantile_frame",
    "base_stock_levels",
    "critical_ratio",
    "expected_shortage",
    "fill_rate_level",
    "newsvendor_normal",
    "protection_quantiles",
    "quantile_at",
    "replenishment",
    "simulate",
]
