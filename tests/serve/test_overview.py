"""The dashboard's read-only endpoints and its offline assets (no browser: see test_dashboard_browser)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from shopml.benchmarks.runner import BenchResult, Row
from shopml.serve.routers.dashboard import PAGES, STATIC, plotly_js
from shopml.serve.workspace_io import open_workspace
from tests.serve.conftest import KEY, make_client


def test_overview_matches_the_workspace_and_registry(client, shop):
    ws, _ = shop
    r = client.get("/v1/overview")
    assert r.status_code == 200, r.text
    o = r.json()
    with open_workspace(ws) as w:
        counts = {t["name"]: w.count(t["name"]) for t in o["tables"]}
        quarantined = w.count("quarantine")
        per_day = w.sql("SELECT count(*) AS n FROM events WHERE ts IS NOT NULL")["n"].iloc[0]
        top = w.sql(
            "SELECT user_id FROM events WHERE user_id IS NOT NULL "
            "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 5"
        )["user_id"].tolist()
    assert {t["name"]: t["rows"] for t in o["tables"]} == counts and counts["events"] > 0
    assert sum(sum(v) for v in o["activity"]["counts"].values()) == per_day
    assert o["quarantine"]["rows"] == quarantined
    assert len(o["activity"]["dates"]) == 30  # the tiny shop's 30 days
    assert o["example_users"] == top
    models = {(m["capability"], m["name"]): m for m in o["models"]}
    assert set(models) == {("recommend", "ease"), ("recommend", "popularity"), ("predict", "clv")}
    assert models["recommend", "ease"]["versions"] == ["v0001"]
    assert models["recommend", "ease"]["loaded_version"] == "v0001"
    assert models["predict", "clv"]["config"]["horizon"] == 90.0
    assert o["serving"]["ready"] and o["serving"]["default_recommender"] == "ease"
    assert o["serving"]["models"]["predict/clv"] == "v0001"
    assert {"GET /v1/overview", "GET /v1/search", "POST /v1/feedback"} <= set(o["endpoints"])


def test_customer_profile(client, shop):
    ws, _ = shop
    with open_workspace(ws) as w:
        n_events = w.sql("SELECT count(*) AS n FROM events WHERE user_id = 'u0000010'")["n"].iloc[0]
        spend = w.sql(
            "SELECT coalesce(sum(quantity * unit_price), 0) AS s FROM orders "
            "WHERE user_id = 'u0000010' AND status = 'completed'"
        )["s"].iloc[0]
    r = client.get("/v1/customers/u0000010", params={"limit": 7})
    assert r.status_code == 200, r.text
    p = r.json()
    assert p["events"] == n_events == sum(p["events_by_type"].values())
    assert abs(p["completed_spend"] - spend) < 1e-6
    assert len(p["recent"]) == min(7, n_events)
    ts = [e["ts"] for e in p["recent"]]
    assert ts == sorted(ts, reverse=True)  # newest first
    assert sum(sum(v) for v in p["activity"]["counts"].values()) == n_events
    r = client.get("/v1/customers/ghost")
    assert r.status_code == 404 and r.json()["error"] == "unknown_user"
    assert client.get("/v1/customers/u0000010", params={"limit": 0}).status_code == 422


def test_product_profile(client, shop):
    ws, _ = shop
    with open_workspace(ws) as w:
        units = w.sql(
            "SELECT coalesce(sum(quantity), 0) AS u FROM orders "
            "WHERE item_id = 'i000005' AND status = 'completed'"
        )["u"].iloc[0]
        title = w.sql("SELECT title FROM items WHERE item_id = 'i000005'")["title"].iloc[0]
        n_reviews = w.sql("SELECT count(*) AS n FROM reviews WHERE item_id = 'i000005'")["n"].iloc[
            0
        ]
    p = client.get("/v1/items/i000005").json()
    assert p["title"] == title and p["units_sold"] == units
    assert p["reviews"]["reviews"] == n_reviews
    assert sum(p["events_by_type"].values()) > 0
    r = client.get("/v1/items/ghost")
    assert r.status_code == 404 and r.json()["error"] == "unknown_item"
    # the similar-items route beside it is unchanged
    assert client.get("/v1/items/i000005/similar", params={"k": 3}).status_code == 200


def test_leaderboards_read_result_files_and_skip_the_rest(shop, tmp_path):
    bench = tmp_path / "bench"
    bench.mkdir()
    BenchResult(
        "recommend",
        "tiny",
        "a protocol",
        rows=[
            Row("ease", {"ndcg@10": 0.31, "recall@10": float("nan")}, fit_seconds=0.5),
            Row("implicit-als", {"ndcg@10": 0.29}, peer=True),
        ],
    ).write(bench / "recommend_tiny.json")
    (bench / "serve_load.json").write_text(json.dumps({"endpoints": {}}))
    (bench / "broken.json").write_text("{not json")
    with make_client(*shop, bench_dir=bench) as c:
        lb = c.get("/v1/leaderboards").json()
    assert [b["file"] for b in lb["boards"]] == ["recommend_tiny.json"]
    assert sorted(lb["skipped"]) == ["broken.json", "serve_load.json"]
    rows = lb["boards"][0]["rows"]
    assert [(r["model"], r["peer"]) for r in rows] == [("ease", False), ("implicit-als", True)]
    assert rows[0]["metrics"] == {"ndcg@10": 0.31, "recall@10": None}  # NaN is not JSON
    with make_client(*shop) as c:  # no folder configured
        assert c.get("/v1/leaderboards").json() == {"folder": None, "boards": [], "skipped": []}


def test_pages_and_docs_need_no_internet(client):
    for name in PAGES:
        r = client.get(f"/dashboard/{name}")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
        sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
        assert sources and all(s.startswith("/") for s in sources), sources
    assert client.get("/", follow_redirects=False).headers["location"] == "/dashboard/"
    js = client.get("/dashboard/vendor/plotly.min.js")
    assert js.status_code == 200 and len(js.content) == plotly_js().stat().st_size
    docs = client.get("/docs").text
    assert "cdn" not in docs.lower() and "/dashboard/vendor/swagger/swagger-ui-bundle.js" in docs
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert client.get(f"/dashboard/vendor/swagger/{asset}").status_code == 200
    assert client.get("/dashboard/vendor/swagger/../app.py").status_code == 404
    assert client.get("/dashboard/vendor/swagger/index.html").status_code == 404
    assert client.get("/dashboard/static/dashboard.js").status_code == 200
    # the pages are package data: they are where an installed package finds them
    assert Path(str(resources.files("shopml.serve") / "static")) == STATIC
    assert all((STATIC / f).is_file() for f in PAGES.values())


def test_read_key_guards_the_data_not_the_pages(shop):
    with make_client(*shop, read_key="read-key-0123") as c:
        assert c.get("/dashboard/").status_code == 200
        assert c.get("/v1/overview").status_code == 401
        assert c.get("/v1/overview", headers={"X-API-Key": "read-key-0123"}).status_code == 200
        assert c.get("/v1/customers/u0000010", headers={"X-API-Key": KEY}).status_code == 200
