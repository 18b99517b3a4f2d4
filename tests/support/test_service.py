"""The assistant served by the real app: /v1/support/answer and /v1/support/messages."""

from fastapi.testclient import TestClient

from shopml.serve import create_app
from shopml.support.train import train


def test_answer_and_messages_over_http(shop, tmp_path, monkeypatch):
    from shopml import capabilities

    # the app over this capability alone: other capabilities' parts are not under test here
    mine = {k: v for k, v in capabilities.specs().items() if k in ("support", "text")}
    monkeypatch.setattr(capabilities, "specs", lambda: mine)
    reg = tmp_path / "reg"
    train(shop, reg, "tfidf", params={"C": 0.25, "class_weight": None})
    app = create_app(shop, reg, api_key="k" * 16, pump_interval_s=0.02)
    with TestClient(app) as client:
        r = client.post("/v1/support/answer", json={"text": "where is my order", "user_id": "u1"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["intent"] == "track_order" and body["handover"] is False
        assert body["slots_used"]["order_id"] == "o2"
        assert "o2" in body["answer"]
        assert body["model"]["name"] == "assistant"
        bad = client.post("/v1/support/answer", json={"text": ""})
        assert bad.status_code == 422
        m = client.get("/v1/support/messages", params={"limit": 5})
        assert m.status_code == 200, m.text
        items = m.json()["items"]
        assert len(items) == 5 and all(i["answer"] for i in items)
        page = client.get("/dashboard/support")
        assert page.status_code == 200 and "/v1/support/messages" in page.text
