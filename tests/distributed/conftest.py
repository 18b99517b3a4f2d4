"""One local Ray for the whole package (Ray starts slowly on 2 cores) and a tiny simulated shop."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.recommend.train import train_and_register

SHOP = SimConfig(n_users=300, n_items=60, days=30, seed=1, session_rate=0.3)


@pytest.fixture(scope="package")
def ray_local():
    """A private local Ray (2 CPUs), started once for tests/distributed and shut down after."""
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install shopml[distributed])")
    if ray.is_initialized():  # pragma: no cover - another package's Ray would be reused silently
        ray.shutdown()
    ray.init(
        address="local",
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
    )
    yield ray
    ray.shutdown()


@pytest.fixture(scope="package")
def shop(tmp_path_factory) -> tuple[Path, Path]:
    """Workspace of a tiny simulated shop, and a registry with EASE trained on it."""
    root = tmp_path_factory.mktemp("ray-shop")
    ws_path, reg_path = root / "shop.duckdb", root / "registry"
    with Workspace(ws_path) as ws:
        simulate(SHOP).write(ws)
    train_and_register(ws_path, reg_path, "ease", {"l2": 10.0})
    return ws_path, reg_path
