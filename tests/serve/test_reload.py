"""Reloads swap model versions atomically while requests keep being answered."""

from __future__ import annotations

import threading
import time
from collections import Counter

import numpy as np

from shopml.recommend.train import train_and_register
from shopml.registry import Registry
from tests.serve.conftest import make_client


def test_reload_swaps_versions_while_requests_continue(client, shop, auth):
    user = "u0000010"
    stop = threading.Event()
    seen: Counter = Counter()
    failures: list[str] = []

    def hammer() -> None:
        while not stop.is_set():
            r = client.get(f"/v1/recommendations/{user}", params={"k": 5, "fallback": "popular"})
            if r.status_code != 200:
                failures.append(f"{r.status_code} {r.text}")
            else:
                seen[r.json()["model"]["version"]] += 1
            h = client.post(
                "/v1/recommendations/for-history", json={"item_ids": ["i000001"], "k": 3}
            )
            if h.status_code != 200:
                failures.append(f"{h.status_code} {h.text}")

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.3)
        for i, l2 in enumerate((5.0, 50.0, 500.0)):
            train_and_register(shop[0], shop[1], "ease", {"l2": l2})
            r = client.post("/v1/admin/reload", headers=auth)
            assert r.status_code == 200
            body = r.json()
            assert body["changed"] and body["current"]["recommend/ease"] == f"v{i + 2:04d}"
            assert body["previous"]["recommend/ease"] == f"v{i + 1:04d}"
            time.sleep(0.3)
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert failures == []
    assert set(seen) == {"v0001", "v0002", "v0003", "v0004"}, seen
    assert sum(seen.values()) > 20
    final = client.get(f"/v1/recommendations/{user}", params={"fallback": "popular"}).json()
    assert final["model"]["version"] == "v0004"
    ready = client.get("/readyz").json()
    assert ready["models"]["recommend/ease"] == "v0004" and ready["generation"] == 4
    assert (
        'shopml_model_version{capability="recommend",name="ease",pid='
        in client.get("/metrics").text
    )
    assert (
        "} 4.0"
        in [
            ln
            for ln in client.get("/metrics").text.splitlines()
            if ln.startswith('shopml_model_version{capability="recommend",name="ease"')
        ][0]
    )


def test_a_broken_new_version_keeps_the_previous_one(client, shop, auth):
    before = client.get("/v1/recommendations/u0000010", params={"fallback": "popular"}).json()
    mv = train_and_register(shop[0], shop[1], "ease", {"l2": 77.0})
    arrays = mv.path / "arrays.npz"
    data = bytearray(arrays.read_bytes())
    data[len(data) // 2] ^= 0xFF  # one bit flipped on disk after registration
    arrays.write_bytes(bytes(data))
    r = client.post("/v1/admin/reload", headers=auth)
    assert r.status_code == 200
    body = r.json()
    assert body["current"]["recommend/ease"] == "v0001" and not body["changed"]
    assert (
        len(body["errors"]) == 1
        and "recommend/ease/v0002" in body["errors"][0]
        and "sha256" in body["errors"][0]
    )
    after = client.get("/v1/recommendations/u0000010", params={"fallback": "popular"}).json()
    assert after == before


def test_every_worker_follows_a_reload(shop, auth):
    """Two apps on one workspace stand in for two uvicorn workers: a reload sent to one
    reaches the other through the reload generation file."""
    with make_client(*shop) as a, make_client(*shop) as b:
        assert a.app.state.serve.feedback.is_writer != b.app.state.serve.feedback.is_writer
        train_and_register(shop[0], shop[1], "ease", {"l2": 20.0})
        assert (
            a.post("/v1/admin/reload", headers=auth).json()["current"]["recommend/ease"] == "v0002"
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if b.get("/readyz").json()["models"]["recommend/ease"] == "v0002":
                break
            time.sleep(0.1)
        assert b.get("/readyz").json()["models"]["recommend/ease"] == "v0002"
        ra = a.get("/v1/recommendations/u0000010", params={"fallback": "popular"}).json()
        rb = b.get("/v1/recommendations/u0000010", params={"fallback": "popular"}).json()
        assert ra == rb


def test_reload_picks_up_a_model_registered_after_start(tmp_path, shop_template, auth):
    """A server started on an empty registry is not ready until a model is registered and reloaded."""
    import shutil

    ws = tmp_path / "shop.duckdb"
    shutil.copy(shop_template[0], ws)
    reg = tmp_path / "empty-registry"
    with make_client(ws, reg, default_recommender=None) as c:
        r = c.get("/readyz")
        assert r.status_code == 503 and not r.json()["ready"]
        assert c.get("/v1/recommendations/u1").json()["error"] == "no_recommender"
        train_and_register(ws, reg, "popularity", {})
        assert c.post("/v1/admin/reload", headers=auth).json()["current"] == {
            "recommend/popularity": "v0001"
        }
        assert c.get("/readyz").status_code == 200
        pop = c.get("/v1/recommendations/u1", params={"fallback": "popular", "k": 3}).json()
        assert [i["rank"] for i in pop["items"]] == [1, 2, 3]
    assert Registry(reg).latest("recommend", "popularity").version == "v0001"
    assert np.isfinite([i["score"] for i in pop["items"]]).all()
