"""Train + register + load, the CLI commands, and the /v1/prices routes on a small shop."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.pricing.data import panel_from_workspace
from shopml.pricing.train import load, train
from shopml.registry import Registry

CFG = SimConfig(
    n_users=3000, n_items=30, n_categories=3, days=120, seed=4, price_confounding=1.0,
    impression_share=0.0, fraud_rate=0.0, search_share=0.0, session_rate=0.05,
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pricing_shop")
    sim = simulate(CFG)
    path = folder / "shop.duckdb"
    with Workspace(path) as ws:
        for name in ("items", "prices", "orders"):
            ws.append(name, sim.arrow(name), source="synth")
    return path, folder / "artifacts", sim


def test_panel_has_zero_days_prices_costs_and_categories(shop):
    path, _, sim = shop
    with Workspace(path, read_only=True) as ws:
        panel = panel_from_workspace(ws, "D")
    assert {"unique_id", "ds", "y", "price", "category", "promo", "cost"} <= set(panel.columns)
    assert (panel["y"] == 0).any()  # days without a sale keep their price
    sold = sim.orders[sim.orders["status"] != "cancelled"]["quantity"].sum()
    assert panel["y"].sum() == pytest.approx(sold)
    cost = sim.items.set_index("item_id")["attributes"].str.extract(r'"cost":\s*([0-9.]+)')[0]
    got = panel.groupby("unique_id")["cost"].first()
    assert np.allclose(got, cost.astype(float)[got.index])


def test_train_registers_what_serving_needs_and_load_does_not_refit(shop):
    path, artifacts, _ = shop
    mv = train(path, artifacts, "naive", horizon=7, max_change=0.1)
    assert mv.capability == "pricing" and mv.name == "naive"
    assert {"elasticities.parquet", "prices.parquet", "model/model.json"} <= set(mv.files)
    served = load(Registry(artifacts).verify(mv))
    # products that never sold have no demand to learn from and are left out
    assert CFG.n_items - 5 <= len(served.prices) == len(served.elasticities) <= CFG.n_items
    assert (served.prices["change"].abs() <= 0.1 + 1e-9).all()
    assert set(served.prices["binding"]) <= {
        "none", "max_change", "min_margin", "capacity", "category_budget", "ladder", "infeasible"
    }
    # the planned profit is at least the current one (the current price is on the ladder)
    assert served.prices["profit"].sum() >= served.prices["current_profit"].sum() - 1e-9
    again = served.model.elasticities()
    pd.testing.assert_frame_equal(again, served.elasticities)


def test_cli_price_and_train(shop, tmp_path):
    import typer

    from shopml.cli.pricing import price_cmd, train_pricing

    # an app holding only these commands: the shared app loads every capability's commands
    app = typer.Typer()
    app.command("price")(price_cmd)
    app.command("train-pricing")(train_pricing)
    path, _, _ = shop
    runner = CliRunner()
    out = tmp_path / "prices.csv"
    res = runner.invoke(app, ["price", "-w", str(path), "--out", str(out), "-m", "naive"])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out)
    assert {"item_id", "price", "units", "profit", "binding"} <= set(frame.columns)
    assert CFG.n_items - 5 <= len(frame) <= CFG.n_items
    res = runner.invoke(app, ["train-pricing", "-m", "naive", "-w", str(path), "-r",
                              str(tmp_path / "reg"), "--horizon", "7"])
    assert res.exit_code == 0, res.output
    assert "registered pricing/naive v0001" in res.output
    assert Registry(tmp_path / "reg").latest("pricing", "naive").config["horizon"] == 7
    res = runner.invoke(app, ["train-pricing", "-m", "naive", "-w", str(path), "-r",
                              str(tmp_path / "reg"), "--category-budget", "x=oops"])
    assert res.exit_code == 2 and "CATEGORY=AMOUNT" in res.output
    res = runner.invoke(app, ["price", "-w", str(tmp_path / "none.duckdb")])
    assert res.exit_code == 2 and "does not exist" in res.output


def test_prices_route_serves_the_registered_plan(shop):
    from fastapi.testclient import TestClient

    from shopml.serve.app import create_app

    path, artifacts, _ = shop
    mv = train(path, artifacts, "controls", horizon=7)
    plan = load(mv).prices
    from shopml.core.errors import ShopMLError

    try:
        app = create_app(path, artifacts)
    except ShopMLError as exc:  # another capability's page still being written
        if "dashboard page" in str(exc) and "pricing" not in str(exc):
            pytest.skip(str(exc))
        raise
    with TestClient(app) as client:
        res = client.get("/v1/prices", params={"model": "controls"})
        if res.status_code == 404 and "pricing" not in res.text:
            pytest.skip("the service does not mount capability routers yet")
        assert res.status_code == 200, res.text
        body = res.json()
        assert body["model"]["name"] == "controls" and body["horizon"] == 7
        got = pd.DataFrame(body["prices"]).set_index("item_id")
        assert np.allclose(got["price"], plan.set_index("unique_id")["price"][got.index])
        one = plan["unique_id"].iloc[0]
        res = client.get("/v1/prices", params={"item_id": one, "model": "controls"})
        assert [p["item_id"] for p in res.json()["prices"]] == [one]
        assert client.get("/v1/prices", params={"item_id": "nope"}).status_code == 404
        res = client.get("/v1/prices/elasticities", params={"model": "controls", "limit": 5})
        assert res.status_code == 200 and len(res.json()["elasticities"]) == 5
        e = res.json()["elasticities"][0]
        assert e["lower"] <= e["elasticity"] <= e["upper"]


def test_prices_router_on_its_own(shop):
    """The router against a snapshot holding one loaded pricing version (no whole service)."""
    from types import SimpleNamespace

    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from shopml.serve.errors import install_error_handlers
    from shopml.serve.routers.pricing import router
    from shopml.serve.state import Loaded

    path, artifacts, _ = shop
    mv = train(path, artifacts, "naive", horizon=3)
    served = load(mv)
    loaded = Loaded("pricing", "naive", mv, served)
    snap = SimpleNamespace(served=lambda cap: {"naive": loaded} if cap == "pricing" else {},
                           defaults={"pricing": "naive"})
    app = FastAPI()
    install_error_handlers(app)
    app.state.settings = SimpleNamespace(read_key=None, api_key=None)
    app.state.serve = SimpleNamespace(snapshot=snap)
    app.include_router(router)
    client = TestClient(app)
    body = client.get("/v1/prices").json()
    assert body["horizon"] == 3 and body["model"] == {"name": "naive", "version": mv.version}
    got = pd.DataFrame(body["prices"]).set_index("item_id")
    want = served.prices.set_index("unique_id")
    assert np.allclose(got["price"], want.loc[got.index, "price"])
    assert (got["binding"] == want.loc[got.index, "binding"]).all()
    cat = want["category"].iloc[0]
    res = client.get("/v1/prices", params={"category": cat}).json()
    assert {p["category"] for p in res["prices"]} == {cat}
    assert client.get("/v1/prices", params={"item_id": "nope"}).status_code == 404
    assert client.get("/v1/prices", params={"model": "dml"}).status_code == 404
    res = client.get("/v1/prices/elasticities", params={"limit": 3}).json()
    assert len(res["elasticities"]) == 3 and res["level"] == 95.0
    units = [e["units"] for e in res["elasticities"]]
    assert units == sorted(units, reverse=True)
