"""A small simulated shop (orders with fraud labels, 120 days) for the task tests."""

from __future__ import annotations

from pathlib import Path

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate

SHOP = SimConfig(n_users=300, n_items=60, days=120, seed=1, session_rate=0.3)
CHURN_OPTIONS = {"horizon": 30, "step": 14, "n_train": 2}


def build_shop(path: Path) -> Path:
    with Workspace(path) as ws:
        simulate(SHOP).write(ws)
    return path
