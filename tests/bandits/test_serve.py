"""``/v1/decide``: a decision is on disk before the answer; rewards through ``/v1/feedback`` are
joined to their decision and update the served policy."""

import json

import pytest
from fastapi.testclient import TestClient

from shopml.bandits.train import train
from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.registry import Registry
from shopml.serve import create_app
from shopml.serve.feedback import log_files

KEY = "bandit-test-key-0123"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    root = tmp_path_factory.mktemp("bandit_shop")
    ws, reg = root / "shop.duckdb", root / "registry"
    with Workspace(ws) as w:
        simulate(SimConfig(n_users=300, n_items=60, n_categories=3, days=20, seed=1)).write(w)
    train(ws, Registry(reg), "linucb")
    return ws, reg


def test_decide_logs_durably_and_learns_from_feedback(shop):
    ws, reg = shop
    app = create_app(ws, reg, api_key=KEY, pump_interval_s=0.02)
    with TestClient(app) as client:
        r = client.post("/v1/decide", json={"context": {"device": "mobile", "hour": 20}, "n": 2})
        assert r.status_code == 200, r.text
        d = r.json()
        assert len(d["actions"]) == 2 and all(0 < p <= 1 for p in d["propensities"])
        # durable before the answer: the line is already in this process's decision log
        folder = ws.with_name(ws.name + ".serve") / "decisions"
        lines = [json.loads(x) for p in log_files(folder) for x in p.read_bytes().splitlines()]
        assert any(rec["decision_id"] == d["decision_id"] for rec in lines)
        served = app.state.serve.snapshot.served("bandits")["linucb"].obj
        before = served.policy.t_
        fb = {
            "events": [
                {
                    "event_type": "click",
                    "user_id": "u0000001",
                    "item_id": d["actions"][0],
                    "attributes": {"decision_id": d["decision_id"], "action": d["actions"][0]},
                }
            ]
        }
        assert client.post("/v1/feedback", json=fb, headers={"X-API-Key": KEY}).status_code in (
            200,
            202,
        )
        learned = client.post("/v1/decide/learn", headers={"X-API-Key": KEY}).json()
        assert learned["learned"] == 2 and served.policy.t_ == before + 2  # both slots learned
        assert client.post("/v1/decide", json={"n": 0}).status_code == 422
        assert client.post("/v1/decide", json={"model": "nope"}).status_code == 404
        summary = client.get("/v1/campaigns/summary").json()
        assert summary["policies"][0]["decisions"] >= 1
