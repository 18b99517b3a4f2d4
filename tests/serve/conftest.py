"""A tiny simulated shop with registered models, and a running app over a private copy of it."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.predict import BGNBD, GammaGamma, rfm_summary
from shopml.recommend.train import train_and_register
from shopml.registry import Registry
from shopml.serve import create_app
from shopml.serve.artifacts import register_clv

KEY = "test-api-key-0123"
# the brief's tiny shop, with more sessions per user so that customers buy more than once (CLV)
SHOP = SimConfig(n_users=300, n_items=60, days=30, seed=1, session_rate=0.3)


@pytest.fixture(scope="session")
def shop_template(tmp_path_factory) -> tuple[Path, Path]:
    """Workspace and registry built once: EASE (default) and Popularity, plus a CLV model."""
    root = tmp_path_factory.mktemp("shop")
    ws_path, reg_path = root / "shop.duckdb", root / "registry"
    with Workspace(ws_path) as ws:
        simulate(SHOP).write(ws)
        orders = ws.sql(
            "SELECT user_id, ts, quantity * unit_price AS value FROM orders "
            "WHERE status = 'completed' AND user_id IS NOT NULL"
        )
    train_and_register(ws_path, reg_path, "popularity", {})
    train_and_register(ws_path, reg_path, "ease", {"l2": 10.0})
    summary = rfm_summary(orders, orders["ts"].max(), value_col="value")
    bg = BGNBD().fit(summary["frequency"], summary["recency"], summary["T"])
    gg = GammaGamma().fit(summary["frequency"], summary["monetary_value"])
    register_clv(Registry(reg_path), bg, gg, freq="D", horizon=90.0)
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
