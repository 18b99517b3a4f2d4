"""Train -> registry -> service: forecasts and replenishment answered from the registered
Parquet (no refitting), through the spec's router in the real app."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from shopml.core.errors import ValidationError
from shopml.forecast.train import ForecastTable, load, train
from shopml.registry import Registry
from shopml.serve import create_app
from tests.forecast.shop import tiny_workspace

SMALL = {"n_estimators": 30, "num_leaves": 8, "min_child_samples": 5}


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("fc")
    ws = tiny_workspace(root / "ws.duckdb")
    mv = train(ws, root / "registry", "lightgbm", h=4, params=SMALL)
    return ws, root / "registry", mv


def test_registered_files_and_load(served):
    ws, reg, mv = served
    assert set(mv.files) == {"forecast.parquet", "history.parquet", "params.json"}
    assert not any(f.endswith((".pkl", ".pt")) for f in mv.files)
    assert mv.metrics["backtest"] == "last 4 periods" and 0 <= mv.metrics["wape"] < 2
    table = load(Registry(reg).verify(mv))
    assert isinstance(table, ForecastTable) and table.horizon == 4
    assert sorted(table.items) == [f"item{i}" for i in range(5)]
    one = table.for_item("item0", 2)
    assert [s["step"] for s in one["steps"]] == [1, 2]
    s = one["steps"][0]
    assert s["intervals"]["80"] == [s["quantiles"]["0.1"], s["quantiles"]["0.9"]]
    assert len(one["history"]) > 10
    with pytest.raises(ValidationError):
        table.for_item("item0", 9)
    with pytest.raises(KeyError):
        table.for_item("nope")


def test_routes(served):
    ws, reg, mv = served
    with TestClient(create_app(ws, reg)) as c:
        r = c.get("/v1/forecast")
        assert r.status_code == 200, r.text
        assert r.json()["items"][0]["item_id"] == "item0"
        r = c.get("/v1/forecast/item1", params={"h": 3})
        body = r.json()
        assert r.status_code == 200 and len(body["steps"]) == 3
        assert body["model"] == {"name": "lightgbm", "version": mv.version}
        q = body["steps"][0]["quantiles"]
        assert q["0.025"] <= q["0.5"] <= q["0.975"]
        assert c.get("/v1/forecast/unknown").status_code == 404
        assert c.get("/v1/forecast/item1", params={"h": 5}).status_code == 422
        r = c.get(
            "/v1/replenishment",
            params={"item_id": ["item0", "item1"], "on_hand": [5, 1000], "lead_time": 1},
        )
        assert r.status_code == 200, r.text
        orders = {o["item_id"]: o for o in r.json()["orders"]}
        assert orders["item0"]["order_qty"] == pytest.approx(
            max(orders["item0"]["order_up_to"] - 5, 0), abs=1e-2
        )
        assert orders["item1"]["order_qty"] == 0  # far above its level
        assert np.isfinite(orders["item0"]["expected_demand"])
        assert c.get("/v1/replenishment", params={"lead_time": 4}).status_code == 422
        assert c.get("/v1/replenishment", params={"item_id": ["x"]}).status_code == 404
        assert c.get("/v1/replenishment", params={"on_hand": [1]}).status_code == 422
        all_items = c.get(
            "/v1/replenishment", params={"service": "cycle", "policy": "sS", "order_cost": 20}
        )
        assert len(all_items.json()["orders"]) == 5
        page = c.get("/dashboard/forecast")
        assert page.status_code == 200 and "fan" in page.text
