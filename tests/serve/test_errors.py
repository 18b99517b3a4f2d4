"""Bad input gets a 4xx whose body says what is wrong; keys are enforced; bodies are limited."""

from __future__ import annotations

import pytest

from tests.serve.conftest import KEY, make_client


def test_k_out_of_range_names_the_parameter(client):
    r = client.get("/v1/recommendations/u0000001", params={"k": 0})
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid_request"
    assert body["message"].startswith("query.k: Input should be greater than or equal to 1")
    assert (
        client.get("/v1/recommendations/u0000001", params={"k": "many"})
        .json()["message"]
        .startswith("query.k: Input should be a valid integer")
    )
    assert client.get("/v1/items/i000001/similar", params={"k": 5000}).status_code == 422


def test_unknown_user_is_404_with_advice_or_a_flagged_cold_start(client):
    r = client.get("/v1/recommendations/nobody-at-all")
    assert r.status_code == 404
    body = r.json()
    assert body["error"] == "unknown_user" and body["user_id"] == "nobody-at-all"
    assert "fallback=popular" in body["message"] and "for-history" in body["message"]
    assert body["model"] == {"name": "ease", "version": "v0001"}
    cold = client.get(
        "/v1/recommendations/nobody-at-all", params={"fallback": "popular", "k": 5}
    ).json()
    assert cold["cold_start"] is True and cold["source"] == "popular" and len(cold["items"]) == 5
    scores = [i["score"] for i in cold["items"]]
    assert scores == sorted(scores, reverse=True)
    assert client.get("/v1/recommendations/x", params={"fallback": "maybe"}).status_code == 422


def test_unknown_item_model_and_route(client):
    r = client.get("/v1/items/no-such-item/similar")
    assert r.status_code == 404 and r.json()["error"] == "unknown_item"
    r = client.get("/v1/recommendations/u0000001", params={"model": "nope"})
    assert r.status_code == 404 and "ease" in r.json()["message"]
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404 and "/docs" in r.json()["message"]


def test_clv_input_errors(client):
    r = client.get("/v1/predict/clv", params={"frequency": 2, "recency": 5})
    assert r.status_code == 422 and "frequency, recency and T" in r.json()["message"]
    r = client.get("/v1/predict/clv", params={"frequency": 0, "recency": 5, "T": 10})
    assert r.status_code == 422 and "recency must be 0 where frequency is 0" in r.json()["message"]
    r = client.get("/v1/predict/clv", params={"frequency": 2, "recency": 15, "T": 10})
    assert r.status_code == 422 and "recency must be <= T" in r.json()["message"]
    r = client.get("/v1/predict/clv", params={"user_id": "never-ordered"})
    assert r.status_code == 404 and r.json()["error"] == "unknown_customer"


def test_search_input_errors(client):
    assert client.get("/v1/search").status_code == 422
    r = client.get("/v1/search", params={"q": "   "})
    assert r.status_code == 422 and "blank" in r.json()["message"]
    r = client.get("/v1/search", params={"q": "kettle", "method": "dense"})
    assert r.status_code == 422 and "bm25" in r.json()["message"]
    r = client.get("/v1/search", params={"q": "kettle", "min_price": 10, "max_price": 5})
    assert r.status_code == 422


EVENT = {"event_type": "click", "user_id": "u0000001", "item_id": "i000001"}


def test_write_endpoints_need_the_key(client):
    r = client.post("/v1/feedback", json={"events": [EVENT]})
    assert r.status_code == 401 and r.json()["error"] == "missing_api_key"
    assert r.headers["www-authenticate"] == "ApiKey"
    r = client.post("/v1/feedback", json={"events": [EVENT]}, headers={"X-API-Key": KEY[:-1] + "x"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_api_key"
    assert client.post("/v1/admin/reload").status_code == 401
    assert client.post("/v1/admin/reload", headers={"X-API-Key": KEY}).status_code == 200


def test_without_a_configured_key_writes_are_disabled(shop):
    with make_client(*shop, api_key=None) as c:
        r = c.post(
            "/v1/feedback", json={"events": [EVENT]}, headers={"X-API-Key": "anything-at-all"}
        )
        assert r.status_code == 403 and "--api-key" in r.json()["message"]


def test_read_key_protects_read_endpoints(shop):
    with make_client(*shop, read_key="reader-key-42") as c:
        assert c.get("/v1/recommendations/x", params={"fallback": "popular"}).status_code == 401
        ok = c.get(
            "/v1/recommendations/x",
            params={"fallback": "popular"},
            headers={"X-API-Key": "reader-key-42"},
        )
        assert ok.status_code == 200
        assert c.get("/v1/search", params={"q": "a"}, headers={"X-API-Key": KEY}).status_code == 200
        assert c.get("/healthz").status_code == 200 and c.get("/metrics").status_code == 200


def test_short_keys_are_refused(shop):
    with pytest.raises(ValueError, match="at least 8"):
        make_client(*shop, api_key="short")


def test_oversized_bodies_get_413(shop):
    with make_client(*shop, max_body_bytes=4096) as c:
        big = {"events": [dict(EVENT, query="x" * 1000) for _ in range(10)]}
        r = c.post("/v1/feedback", json=big, headers={"X-API-Key": KEY})
        assert r.status_code == 413
        size = int(r.request.headers["content-length"])
        assert size > 4096
        assert r.json() == {
            "error": "payload_too_large",
            "message": f"request body is limited to 4096 bytes; got {size} bytes",
        }
        # a chunked body without Content-Length is cut off at the limit too
        chunks = (b'{"item_ids": [' + b'"a",' * 2000 + b'"b"]}',)
        js = {"content-type": "application/json"}
        r = c.post("/v1/recommendations/for-history", content=iter(chunks), headers=js)
        assert "content-length" not in r.request.headers
        assert r.status_code == 413 and "4096" in r.json()["message"]
        small = c.post(
            "/v1/recommendations/for-history",
            content=iter([b'{"item_ids": [], "k": 2}']),
            headers=js,
        )
        assert small.status_code == 200
        assert 'status="413"' in c.get("/metrics").text


def test_feedback_validation_messages(client, auth):
    def msg(events):
        r = client.post("/v1/feedback", json={"events": events}, headers=auth)
        assert r.status_code == 422, r.text
        return r.json()["message"]

    assert "needs a user_id or a session_id" in msg([{"event_type": "view", "item_id": "i1"}])
    assert "needs an item_id" in msg([{"event_type": "purchase", "user_id": "u"}])
    assert "events.0.event_type" in msg(
        [{"event_type": "teleport", "user_id": "u", "item_id": "i"}]
    )
    assert "events.0.price" in msg([dict(EVENT, price=-1)])
    assert "events.0.colour" in msg([dict(EVENT, colour="red")])  # misspelt fields are errors
    assert "events.0.ts" in msg([dict(EVENT, ts="3000-01-01T00:00:00Z")])
    assert "events" in msg([])
    r = client.post(
        "/v1/feedback", content=b"{not json", headers={**auth, "content-type": "application/json"}
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_request"


def test_a_body_that_is_not_utf8_json_is_a_400_that_says_so(client):
    r = client.post(
        "/v1/recommendations/for-history",
        content=b"\x80\x81",  # not UTF-8: json.loads raises UnicodeDecodeError
        headers={"content-type": "application/json"},
    )
    assert r.status_code == 400
    assert r.json() == {
        "error": "bad_request",
        "message": "the request body could not be parsed: send JSON encoded as UTF-8",
    }
