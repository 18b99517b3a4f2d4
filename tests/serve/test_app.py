"""Every endpoint's happy path, checked against the models called in-process."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.data import Workspace
from shopml.predict.clv import load_clv_model
from shopml.recommend.base import Recommender
from shopml.registry import Registry


def _model(reg, name="ease") -> Recommender:
    return Recommender.load(Registry(reg).latest("recommend", name).path)


def _active_user(model: Recommender) -> str:
    """A user with a handful of training items (enough to explain, few enough to leave choice)."""
    counts = np.diff(model.train_.indptr)
    return str(model.users_.ids[int(np.argmin(np.abs(counts - 6)))])


def test_health_ready_docs_and_openapi(client):
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["ready"] and body["feedback_writer"] and body["errors"] == []
    assert body["models"] == {
        "recommend/ease": "v0001",
        "recommend/popularity": "v0001",
        "clv/btyd": "v0001",
        "search/engine": "v0001",
    }
    assert body["capabilities"]["recommend"] == ["ease", "popularity"]
    assert body["capabilities"]["search"] == ["engine"] and body["capabilities"]["predict"] == []
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for p in (
        "/v1/recommendations/{user_id}",
        "/v1/recommendations/for-history",
        "/v1/items/{item_id}/similar",
        "/v1/predict/clv",
        "/v1/search",
        "/v1/feedback",
        "/v1/admin/reload",
        "/metrics",
    ):
        assert p in paths, p


def test_recommendations_match_the_model_in_process(client, shop):
    model = _model(shop[1])
    user = _active_user(model)
    r = client.get(f"/v1/recommendations/{user}", params={"k": 7})
    assert r.status_code == 200
    body = r.json()
    expected = model.recommend([user], k=7)
    assert [i["item_id"] for i in body["items"]] == expected["item_id"].tolist()
    assert [i["rank"] for i in body["items"]] == list(range(1, 8))
    assert np.allclose([i["score"] for i in body["items"]], expected["score"], rtol=1e-6)
    assert body["model"] == {"name": "ease", "version": "v0001"}
    assert body["source"] == "model" and body["cold_start"] is False
    seen = set(model.items_.decode(model.train_[int(model.users_.encode([user])[0])].indices))
    assert not seen & {i["item_id"] for i in body["items"]}
    with Workspace(shop[0], read_only=True) as ws:
        titles = ws.df("items").set_index("item_id")["title"]
    assert all(i["title"] == titles[i["item_id"]] for i in body["items"])


def test_recommendation_options(client, shop):
    model = _model(shop[1])
    user = _active_user(model)
    with Workspace(shop[0], read_only=True) as ws:
        cats = ws.df("items").set_index("item_id")["category"]
    keep = sorted(cats.unique())[:2]
    r = client.get(
        f"/v1/recommendations/{user}", params={"k": 5, "include_categories": ",".join(keep)}
    )
    assert r.status_code == 200 and r.json()["items"]
    assert {cats[i["item_id"]] for i in r.json()["items"]} <= set(keep)
    r = client.get(
        f"/v1/recommendations/{user}",
        params=[("k", 60), ("exclude_categories", keep[0]), ("exclude_categories", keep[1])],
    )
    assert {cats[i["item_id"]] for i in r.json()["items"]}.isdisjoint(keep)
    with_seen = client.get(
        f"/v1/recommendations/{user}", params={"k": 60, "exclude_seen": False}
    ).json()
    assert len(with_seen["items"]) == len(model.items_)
    explained = client.get(f"/v1/recommendations/{user}", params={"k": 2, "explain": True}).json()
    reasons = explained["items"][0]["explanation"]
    expected = model.explain(user, explained["items"][0]["item_id"], n=3)
    assert reasons and [r["because_of"] for r in reasons] == [e["because_of"] for e in expected]
    assert [r["similarity"] for r in reasons] == pytest.approx([e["similarity"] for e in expected])
    with Workspace(shop[0], read_only=True) as ws:
        titles = ws.df("items").set_index("item_id")["title"]
    assert all(r["title"] == titles[r["because_of"]] for r in reasons)
    pop = client.get(f"/v1/recommendations/{user}", params={"k": 3, "model": "popularity"}).json()
    assert pop["model"]["name"] == "popularity"
    assert [i["item_id"] for i in pop["items"]] == _model(shop[1], "popularity").recommend(
        [user], k=3
    )["item_id"].tolist()


def test_for_history_and_similar(client, shop):
    model = _model(shop[1])
    history = model.items_.ids[:3].tolist()
    r = client.post(
        "/v1/recommendations/for-history", json={"item_ids": history + ["no-such-item"], "k": 4}
    )
    assert r.status_code == 200
    body = r.json()
    assert [i["item_id"] for i in body["items"]] == model.recommend_for_history(history, k=4)[
        "item_id"
    ].tolist()
    assert (
        body["unknown_items"] == ["no-such-item"]
        and body["source"] == "history"
        and not body["cold_start"]
    )
    empty = client.post("/v1/recommendations/for-history", json={"item_ids": [], "k": 3}).json()
    assert empty["cold_start"] and empty["source"] == "popular" and len(empty["items"]) == 3

    item = history[0]
    r = client.get(f"/v1/items/{item}/similar", params={"k": 5})
    assert r.status_code == 200
    expected = model.similar_items([item], k=5)
    assert [i["item_id"] for i in r.json()["items"]] == expected["similar_item_id"].tolist()
    assert item not in {i["item_id"] for i in r.json()["items"]}


def test_clv_for_a_customer_and_for_a_summary(client, shop):
    served = load_clv_model(Registry(shop[1]).latest("clv", "btyd"))
    bg, gg = served.bgnbd_, served.gamma_gamma_
    r = client.get(
        "/v1/predict/clv", params={"frequency": 3, "recency": 20, "T": 28, "monetary_value": 40.0}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["unit"] == "day" and body["horizon"] == 90.0
    assert body["p_alive"] == pytest.approx(float(bg.p_alive(3, 20, 28)))
    assert body["expected_purchases"] == pytest.approx(float(bg.predict_purchases(90, 3, 20, 28)))
    assert body["clv"] == pytest.approx(float(gg.clv(bg, 3, 20, 28, 40.0, horizon=90)))
    assert body["segment"] in ("high", "mid", "low") and 0 <= body["percentile"] <= 100
    # discounted monthly (the default step: 30 days), as lifetimes does
    r = client.get(
        "/v1/predict/clv",
        params={
            "frequency": 3,
            "recency": 20,
            "T": 28,
            "monetary_value": 40.0,
            "discount_rate": 0.01,
            "horizon": 60,
        },
    )
    expected = float(gg.clv(bg, 3, 20, 28, 40.0, horizon=60, step=30, discount_rate=0.01))
    assert r.json()["clv"] == pytest.approx(expected) and r.json()["clv"] < body["clv"]

    with Workspace(shop[0], read_only=True) as ws:
        orders = ws.sql(
            "SELECT user_id, count(DISTINCT ts::DATE) AS days FROM orders "
            "WHERE status = 'completed' AND user_id IS NOT NULL GROUP BY 1 ORDER BY 2 DESC, 1"
        )
    user = orders["user_id"].iloc[0]
    r = client.get("/v1/predict/clv", params={"user_id": user})
    assert r.status_code == 200
    body = r.json()
    assert body["user_id"] == user and body["frequency"] == orders["days"].iloc[0] - 1
    assert body["clv"] > 0
    # precomputed at load for the default horizon; computed per request for another one
    args = (bg, body["frequency"], body["recency"], body["T"], body["monetary_value"])
    assert body["clv"] == pytest.approx(float(gg.clv(*args, horizon=90)))
    short = client.get("/v1/predict/clv", params={"user_id": user, "horizon": 30}).json()
    assert (
        short["clv"] == pytest.approx(float(gg.clv(*args, horizon=30)))
        and short["clv"] < body["clv"]
    )
    # no amount given: the spend per purchase is the population mean
    r = client.get("/v1/predict/clv", params={"frequency": 2, "recency": 10, "T": 20}).json()
    assert r["expected_spend"] == pytest.approx(
        float(gg.conditional_expected_average_profit(0.0, 0.0))
    )
    # the best customer's percentile is near the top of the workspace's customers
    assert body["percentile"] > 50


def test_search(client, shop):
    with Workspace(shop[0], read_only=True) as ws:
        items = ws.df("items")
    target = items.iloc[7]
    r = client.get("/v1/search", params={"q": target["title"], "k": 3})
    assert r.status_code == 200
    body = r.json()
    assert body["items"][0]["item_id"] == target["item_id"]
    assert body["items"][0]["title"] == target["title"] and body["method"] == "bm25"
    cat = target["category"]
    r = client.get("/v1/search", params={"q": target["title"], "k": 10, "category": cat})
    assert {i["category"] for i in r.json()["items"]} == {cat}


def test_metrics_count_requests_by_route_and_show_versions(client, shop):
    user = _active_user(_model(shop[1]))
    for _ in range(3):
        client.get(f"/v1/recommendations/{user}")
    client.get("/v1/recommendations/nobody")
    text = client.get("/metrics").text
    lines = [ln for ln in text.splitlines() if ln.startswith("shopml_requests_total{")]
    ok = [
        ln for ln in lines if 'route="/v1/recommendations/{user_id}"' in ln and 'status="200"' in ln
    ]
    assert len(ok) == 1 and ok[0].endswith(" 3.0")
    assert any('status="404"' in ln for ln in lines)
    assert not any("nobody" in ln for ln in lines)  # ids never become labels
    assert 'shopml_model_version{capability="recommend",name="ease"' in text
    assert "shopml_request_seconds_bucket" in text
    frame = pd.Series([ln for ln in text.splitlines() if ln.startswith("shopml_model_version{")])
    assert len(frame) == 4  # ease, popularity, clv, the search engine
