"""The serving fast paths give the answers of the slow ones: arrays instead of frames in the
recommenders, pre-encoded JSON that still matches the documented response models, the CLV
customer lookup, and search micro-batching."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np
import pandas as pd
import pytest

from shopml.core.vocab import Vocab
from shopml.recommend.ease import EASE
from shopml.recommend.knn import ItemKNN
from shopml.recommend.popularity import Popularity
from shopml.serve.batching import SearchBatcher
from shopml.serve.routers.clv import CustomerTable
from shopml.serve.schemas import CLV, Recommendations, SearchResults, Similar


def _interactions(seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    n = 600
    frame = pd.DataFrame(
        {
            "user_id": [f"u{i}" for i in rng.integers(0, 60, n)],
            "item_id": [f"i{i}" for i in rng.zipf(1.5, n) % 40],
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 10**6, n), "s"),
        }
    )
    items = pd.DataFrame({"item_id": [f"i{i}" for i in range(40)], "category": list("abcd") * 10})
    return frame, items


@pytest.mark.parametrize("cls", [EASE, ItemKNN, Popularity])
@pytest.mark.parametrize("exclude_seen", [True, False])
def test_recommend_one_matches_recommend(cls, exclude_seen):
    frame, items = _interactions()
    model = cls().fit(frame, items=items)
    filters = {"exclude_categories": ["b"]}
    for user in model.users_.ids[:15]:
        for f in (None, filters):
            want = model.recommend([user], k=7, exclude_seen=exclude_seen, filters=f)
            u = int(model.users_.encode([user])[0])
            top, scores = model.recommend_one(u, 7, exclude_seen, f)
            assert model.items_.decode(top).tolist() == want["item_id"].tolist()
            # the same sums in another order (recommend builds its rows through a product)
            np.testing.assert_allclose(scores, want["score"].to_numpy(np.float32), rtol=1e-5)


@pytest.mark.parametrize("cls", [EASE, ItemKNN, Popularity])
def test_recommend_one_for_a_history_matches_recommend_for_history(cls):
    frame, items = _interactions(1)
    model = cls().fit(frame, items=items)
    for history in (["i1", "i3", "i1", "i7"], [], ["i5"]):
        want = model.recommend_for_history(history, k=5)
        codes = model.items_.encode(history, strict=False).astype(np.int64)
        top, scores = model.recommend_one(-1, 5, history=codes)
        assert model.items_.decode(top).tolist() == want["item_id"].tolist()
        np.testing.assert_allclose(scores, want["score"].to_numpy(np.float32), rtol=1e-5)
    cold = model.recommend(["nobody"], k=5, unknown="popular")
    top, _ = model.recommend_one(-1, 5)  # no history: the cold-start answer
    assert model.items_.decode(top).tolist() == cold["item_id"].tolist()


def test_recommend_one_rejects_bad_indices():
    from shopml.core.errors import ValidationError

    frame, items = _interactions()
    model = EASE().fit(frame, items=items)
    with pytest.raises(ValidationError, match="out of range"):
        model.recommend_one(len(model.users_), 5)
    with pytest.raises(ValidationError, match="must lie in"):
        model.recommend_one(-1, 5, history=np.array([len(model.items_)]))


def test_vocab_small_lookups_match_the_vectorised_path():
    vocab = Vocab([f"x{i}" for i in range(50)] + ["7"])
    few = ["x3", "nope", "7", 7, "x49"]
    many = few * 5  # over the small-list threshold: the pandas path
    small = vocab.encode(few, strict=False)
    assert small.tolist() == [3, -1, 50, 50, 49]
    assert vocab.encode(many, strict=False).tolist() == small.tolist() * 5
    assert vocab.decode(small[small >= 0]).tolist() == ["x3", "7", "7", "x49"]


def test_customer_table_matches_the_frame():
    customers = pd.DataFrame(
        {
            "frequency": [0.0, 3.0],
            "recency": [0.0, 20.0],
            "T": [5.0, 40.0],
            "monetary_value": [0.0, 12.5],
            "p_alive": [1.0, 0.8],
            "expected_purchases": [0.1, 1.5],
            "expected_spend": [np.nan, 11.0],
            "clv": [np.nan, 16.5],
        },
        index=pd.Index(["a", "b"], name="user_id"),
    )
    table = CustomerTable(customers)
    assert table.values("zzz") is None
    row = table.values("b")
    assert row == customers.loc["b"].to_dict()
    assert table.values("a")["clv"] is None  # NaN -> None (null in the answer)


# ----------------------------------------------------------------------------- API answers
def _exact(model, body: dict) -> None:
    """The pre-encoded answer has exactly the response model's fields and validates."""
    assert set(body) == set(model.model_fields)
    model.model_validate(body)


def _known_user(client) -> str:
    return str(client.app.state.serve.snapshot.recommenders["ease"].model.users_.ids[0])


def test_answers_match_their_response_models(client, auth):
    assert client.get("/readyz").json()["ready"]
    r = client.get(f"/v1/recommendations/{_known_user(client)}", params={"k": 5})
    assert r.status_code == 200, r.text
    assert r.json()["source"] == "model" and len(r.json()["items"]) == 5
    assert r.headers["content-type"] == "application/json"
    _exact(Recommendations, r.json())
    item_keys = set(Recommendations.model_fields["items"].annotation.__args__[0].model_fields)
    assert all(set(it) == item_keys for it in r.json()["items"])
    r = client.get("/v1/recommendations/nobody-at-all", params={"fallback": "popular"})
    assert r.status_code == 200 and r.json()["cold_start"] is True
    _exact(Recommendations, r.json())
    first = r.json()["items"][0]["item_id"]
    r = client.post("/v1/recommendations/for-history", json={"item_ids": [first, "no-such"]})
    assert r.status_code == 200, r.text
    _exact(Recommendations, r.json())
    assert r.json()["unknown_items"] == ["no-such"]
    assert first not in [it["item_id"] for it in r.json()["items"]]  # seen: excluded
    r = client.get(f"/v1/items/{first}/similar", params={"k": 3})
    assert r.status_code == 200, r.text
    _exact(Similar, r.json())
    r = client.get("/v1/search", params={"q": "shirt", "k": 5})
    assert r.status_code == 200, r.text
    _exact(SearchResults, r.json())
    r = client.get("/healthz")
    assert r.json() == {"status": "ok"} and r.headers["content-type"] == "application/json"
    r = client.get("/v1/recommendations/nobody-at-all")
    assert r.status_code == 404 and r.json()["error"] == "unknown_user"


def test_recommendations_follow_feedback_on_the_fast_path(client, auth):
    """A known user's new click goes into the history the fast path scores (seen: excluded)."""
    user = _known_user(client)
    before = client.get(f"/v1/recommendations/{user}", params={"k": 3}).json()
    top = before["items"][0]["item_id"]
    ack = client.post(
        "/v1/feedback",
        json={"events": [{"event_type": "click", "user_id": user, "item_id": top}]},
        headers=auth,
    )
    assert ack.status_code == 202, ack.text
    after = client.get(f"/v1/recommendations/{user}", params={"k": 3}).json()
    assert after["source"] == "model+feedback"
    assert top not in [it["item_id"] for it in after["items"]]
    _exact(Recommendations, after)


def test_clv_answer_matches_its_response_model(client):
    r = client.get("/v1/predict/clv", params={"frequency": 2, "recency": 10, "T": 20})
    if r.status_code == 200:
        _exact(CLV, r.json())
    else:  # the served model could not value this summary: a clear 4xx/503, never a 500
        assert r.status_code in (404, 422, 503), r.text


# ----------------------------------------------------------------------------- batching
class _Engine:
    """search_batch over a fixed scoring (query length), counting calls and batch sizes."""

    def __init__(self, block: threading.Event | None = None) -> None:
        self.sizes: list[int] = []
        self.block = block

    def search_batch(self, queries, k=10, filters=None, method=None):
        if self.block is not None:
            self.block.wait(5)
        if any(q == "boom" for q in queries):
            raise ValueError("bad query")
        self.sizes.append(len(queries))
        rows = [
            {"query_idx": j, "rank": r + 1, "item_id": f"{q}-{r}", "score": float(len(q) - r)}
            for j, q in enumerate(queries)
            for r in range(k)
        ]
        res = pd.DataFrame(rows)
        res.attrs = {"corrected_queries": [q.upper() for q in queries]}
        return res


def test_batcher_groups_concurrent_queries_and_splits_results():
    gate = threading.Event()
    engine = _Engine(block=gate)
    batcher = SearchBatcher(max_batch=4)
    queries = [f"q{i}" * (i + 1) for i in range(9)]

    async def go():
        tasks = [asyncio.ensure_future(batcher.search(engine, q, k=3)) for q in queries]
        await asyncio.sleep(0.05)  # the first query started alone; the rest are queued
        gate.set()
        return await asyncio.gather(*tasks)

    hits = asyncio.run(go())
    batcher.close()
    assert engine.sizes[0] == 1 and sum(engine.sizes) == 9 and max(engine.sizes) == 4
    for q, h in zip(queries, hits, strict=True):
        assert h.item_ids == [f"{q}-{r}" for r in range(3)]
        assert h.scores.tolist() == [float(len(q) - r) for r in range(3)]
        assert h.corrected_query == q.upper()


def test_batcher_keeps_one_bad_query_from_failing_the_others():
    gate = threading.Event()
    engine = _Engine(block=gate)
    batcher = SearchBatcher(max_batch=8)

    async def go():
        first = asyncio.ensure_future(batcher.search(engine, "warm", k=2))
        await asyncio.sleep(0.02)
        rest = [asyncio.ensure_future(batcher.search(engine, q, k=2)) for q in ("a", "boom", "c")]
        await asyncio.sleep(0.02)
        gate.set()
        return await asyncio.gather(first, *rest, return_exceptions=True)

    out = asyncio.run(go())
    batcher.close()
    assert out[1].item_ids == ["a-0", "a-1"] and out[3].item_ids == ["c-0", "c-1"]
    assert isinstance(out[2], ValueError)


def test_batcher_keeps_different_settings_apart():
    engine = _Engine()
    batcher = SearchBatcher()

    async def go():
        return await asyncio.gather(
            batcher.search(engine, "x", k=2), batcher.search(engine, "y", k=3),
            batcher.search(engine, "z", k=2, filters={"category": ["a"]}),
        )  # fmt: skip

    a, b, c = asyncio.run(go())
    batcher.close()
    assert len(a.item_ids) == 2 and len(b.item_ids) == 3 and len(c.item_ids) == 2
    assert sorted(engine.sizes) == [1, 1, 1]  # three settings: three calls


def test_heavy_model_calls_move_off_the_event_loop():
    from shopml.serve.routers import recommend as router

    class Heavy:  # stands in for a recommender whose scoring takes milliseconds
        pass

    def burn() -> int:
        t0 = time.thread_time()
        while time.thread_time() - t0 < 3 * router.INLINE_MAX_CPU_S:
            pass
        return threading.get_ident()

    async def go():
        loop_thread = threading.get_ident()
        first = await router._call(Heavy(), burn)  # unknown class: tried inline
        later = await router._call(Heavy(), burn)  # its calls are heavy: the thread pool
        light = await router._call(EASE(), threading.get_ident)
        return loop_thread, first, later, light

    loop_thread, first, later, light = asyncio.run(go())
    assert first == loop_thread and later != loop_thread and light == loop_thread
