"""A tiny simulated shop with registered models, and a running app over a private copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.predict.clv import train_and_register as clv_train
from shopml.recommend.train import train_and_register
from shopml.search.train import train_and_register as search_train
from shopml.serve import create_app

KEY = "test-api-key-0123"
# the brief's tiny shop, with more sessions per user so that customers buy more than once (CLV)
SHOP = SimConfig(n_users=300, n_items=60, days=30, seed=1, session_rate=0.3)


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory) -> tuple[Path, Path]:
    """Workspace and registry built once: EASE (default) and Popularity, a CLV model and the
    search engine."""
    root = tmp_path_factory.mktemp("shop")
    ws_path, reg_path = root / "shop.duckdb", root / "registry"
    with Workspace(ws_path) as ws:
        simulate(SHOP).write(ws)
    train_and_register(ws_path, reg_path, "popularity", {})
    train_and_register(ws_path, reg_path, "ease", {"l2": 10.0})
    clv_train(ws_path, reg_path, "btyd", horizon_days=90.0)
    search_train(ws_path, reg_path)  # the service serves the registered engine, never refits
    return ws_path, reg_path


#: a shop with enough labelled orders (11 frauds, spread over the month) for time-ordered
#: fraud splits: the tiny shop has 2, both late in the month
TASK_SHOP = SimConfig(n_users=1200, n_items=60, days=30, seed=1, session_rate=0.3)


@pytest.fixture(scope="session")
def task_template(tmp_path_factory) -> tuple[Path, Path]:
    """Workspace and registry (EASE) for the prediction-task and monitoring tests."""
    root = tmp_path_factory.mktemp("task-shop")
    ws_path, reg_path = root / "shop.duckdb", root / "registry"
    with Workspace(ws_path) as ws:
        simulate(TASK_SHOP).write(ws)
    train_and_register(ws_path, reg_path, "ease", {"l2": 10.0})
    return ws_path, reg_path


@pytest.fixture
def shop(shop_template, tmp_path) -> tuple[Path, Path]:
    """A private copy of the shop (tests that write do not disturb the others)."""
    ws_src, reg_src = shop_template
    ws, reg = tmp_path / "shop.duckdb", tmp_path / "registry"
    shutil.copy(ws_src, ws)
    shutil.copytree(reg_src, reg)
    return ws, reg


def make_client(ws: Path, reg: Path, **options) -> TestClient:
    options.setdefault("api_key", KEY)
    options.setdefault("default_recommender", "ease")
    options.setdefault("pump_interval_s", 0.02)
    return TestClient(create_app(ws, reg, **options))


@pytest.fixture
def client(shop):
    with make_client(*shop) as c:
        yield c


@pytest.fixture
def auth() -> dict[str, str]:
    return {"X-API-Key": KEY}
