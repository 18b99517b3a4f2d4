"""The dashboard's read-only endpoints and its offline assets (no browser: see test_dashboard_browser)."""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path

from shopml.benchmarks.runner import BenchResult, Row
from shopml.serve.routers.dashboard import STATIC, pages, plotly_js
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
    assert set(models) == {
        ("recommend", "ease"), ("recommend", "popularity"), ("clv", "btyd"), ("search", "engine")
    }
    assert models["recommend", "ease"]["versions"] == ["v0001"]
    assert models["recommend", "ease"]["loaded_version"] == "v0001"
    assert models["clv", "btyd"]["config"]["horizon_days"] == 90.0
    assert o["serving"]["ready"] and o["serving"]["default_recommender"] == "ease"
    assert o["serving"]["models"]["clv/btyd"] == "v0001"
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
    for page in pages():
        r = client.get(f"/dashboard/{page.slug}")
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
    assert all((STATIC / p.file).is_file() for p in pages())
    nav = client.get("/dashboard/nav.json").json()
    assert ["", "Overview"] in nav and ["search", "Search"] in nav


def test_read_key_guards_the_data_not_the_pages(shop):
    with make_client(*shop, read_key="read-key-0123") as c:
        assert c.get("/dashboard/").status_code == 200
        assert c.get("/v1/overview").status_code == 401
        assert c.get("/v1/overview", headers={"X-API-Key": "read-key-0123"}).status_code == 200
        assert c.get("/v1/customers/u0000010", headers={"X-API-Key": KEY}).status_code == 200


# --------------------------------------------------------------- a shop that exports orders only
def orders_only_shop(root: Path) -> tuple[Path, Path]:
    """An Online Retail-like workspace: order lines and a catalogue, no events; empty registry."""
    import numpy as np
    import pandas as pd

    from shopml.data import Workspace

    rng = np.random.default_rng(0)
    n = 400
    day = rng.integers(0, 120, n)
    frame = pd.DataFrame({
        "order_id": [f"5{d:03d}{i % 3}" for i, d in enumerate(day)],
        "line": np.arange(n, dtype=np.int32),
        "user_id": [None if i % 17 == 0 else f"c{i % 9}" for i in range(n)],
        "ts": pd.Timestamp("2011-01-03", tz="UTC") + pd.to_timedelta(day, unit="D"),
        "item_id": [f"sku{int(k)}" for k in rng.zipf(1.6, n) % 12],
        "quantity": rng.integers(1, 24, n).astype(float),
        "unit_price": rng.uniform(0.5, 9.0, n).round(2),
        "status": np.where(np.arange(n) % 11 == 0, "cancelled", "completed"),
    })
    items = pd.DataFrame({"item_id": [f"sku{k}" for k in range(12)],
                          "title": [f"PRODUCT {k}" for k in range(12)]})
    ws, reg = root / "retail.duckdb", root / "registry"
    reg.mkdir()
    with Workspace(ws) as w:
        w.append("items", items)
        w.append("orders", frame)
    return ws, reg


def test_a_shop_without_events_shows_its_orders(tmp_path):
    ws, reg = orders_only_shop(tmp_path)
    with open_workspace(ws) as w:
        top_item = w.sql("SELECT item_id FROM orders GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
        top_item = top_item["item_id"][0]
        lines = w.sql("SELECT count(*) AS n FROM orders")["n"][0]
        units = w.sql(
            "SELECT sum(quantity) AS u, count(DISTINCT order_id) AS n FROM orders "
            "WHERE item_id = ?", [top_item]
        )
        c0 = w.sql("SELECT count(*) AS n, max(ts) AS last FROM orders WHERE user_id = 'c0'")
    with make_client(ws, reg) as c:
        o = c.get("/v1/overview").json()
        assert o["activity"]["source"] == "orders" and o["activity"]["unit"] == "order lines"
        assert sum(sum(v) for v in o["activity"]["counts"].values()) == lines
        assert set(o["activity"]["counts"]) == {"completed", "cancelled"}
        assert o["example_items"][0] == top_item and o["example_users"]
        caps = {x["name"]: x for x in o["capabilities"]}
        assert "recommend" in caps and caps["recommend"]["ok"]  # orders with users suffice
        assert all(x["ok"] or x["missing"] for x in o["capabilities"])

        p = c.get(f"/v1/items/{top_item}").json()
        assert p["known"] and p["events_by_type"] == {}
        assert p["activity"]["source"] == "orders" and p["activity"]["unit"] == "units"
        assert sum(sum(v) for v in p["activity"]["counts"].values()) == units["u"][0]
        assert p["orders"] == units["n"][0] and p["first_sold"] and p["last_sold"]

        u = c.get("/v1/customers/c0", params={"limit": 500}).json()
        assert u["known"] and u["events"] == 0 and len(u["recent"]) == c0["n"][0]
        assert u["recent"][0]["event_type"] in ("order (completed)", "order (cancelled)")
        assert u["recent"][0]["title"].startswith("PRODUCT")
        assert u["last_seen"] and u["last_seen"][:10] == str(c0["last"][0])[:10]
        assert sum(sum(v) for v in u["activity"]["counts"].values()) == c0["n"][0]
        assert u["activity"]["source"] == "orders"


def test_overview_lists_what_the_shop_can_run(client):
    o = client.get("/v1/overview").json()
    from shopml.capabilities import specs

    assert [x["name"] for x in o["capabilities"]] == list(specs())
    assert o["capability_errors"] == []
    for x in o["capabilities"]:
        assert x["ok"] == (x["missing"] == [])
    assert o["activity"]["source"] == "events"
