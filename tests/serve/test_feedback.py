"""Feedback: durable before the answer, in the workspace exactly once, applied online at once."""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

import numpy as np
import pandas as pd

from shopml.recommend.base import Recommender
from shopml.registry import Registry
from shopml.serve.feedback import (
    AppendLog,
    FeedbackService,
    LogIngester,
    Overlay,
    log_files,
    read_offsets,
)
from shopml.serve.workspace_io import open_workspace
from tests.serve.conftest import make_client


def _events_with(ws: Path, ids: list[str]) -> pd.DataFrame:
    with open_workspace(ws) as w:
        placeholders = ", ".join("?" for _ in ids)
        return w.sql(f"SELECT * FROM events WHERE event_id IN ({placeholders})", ids)


def _feedback_quarantine(ws: Path) -> int:
    with open_workspace(ws) as w:
        return int(w.sql("SELECT count(*) AS n FROM quarantine WHERE source = 'feedback'")["n"][0])


def test_ack_means_synced_to_the_log_and_then_in_the_workspace(client, shop, auth):
    state = client.app.state.serve
    ev = {
        "event_id": "ack-1",
        "event_type": "add_to_cart",
        "user_id": "u0000001",
        "item_id": "i000003",
        "quantity": 2,
    }
    r = client.post("/v1/feedback", json={"events": [ev]}, headers=auth)
    assert r.status_code == 202
    assert r.json() == {
        "accepted": 1,
        "event_ids": ["ack-1"],
        "durable": True,
        "committed": False,
        "applied_online": 1,
    }
    # the acknowledged line is in this process's log file on disk
    line = state.feedback.log.path.read_bytes().splitlines()[-1]
    assert json.loads(line)["event_id"] == "ack-1"
    state.feedback.flush()
    row = _events_with(shop[0], ["ack-1"])
    assert len(row) == 1 and row["event_type"][0] == "add_to_cart" and row["quantity"][0] == 2.0
    assert (
        read_offsets(state.settings.feedback_dir)[state.feedback.log.name]
        == state.feedback.log.path.stat().st_size
    )


def test_wait_answers_once_the_row_is_in_the_workspace(client, shop, auth):
    ev = {
        "event_id": "wait-1",
        "event_type": "purchase",
        "user_id": "u0000002",
        "item_id": "i000004",
        "price": 9.5,
        "ts": "2024-02-01T10:00:00+02:00",
        "attributes": {"campaign": "spring"},
    }
    r = client.post("/v1/feedback", json={"events": [ev]}, params={"wait": True}, headers=auth)
    assert r.status_code == 200 and r.json()["committed"] is True
    row = _events_with(shop[0], ["wait-1"])
    assert len(row) == 1
    assert row["ts"][0] == pd.Timestamp("2024-02-01T08:00:00Z")  # stored in UTC
    assert json.loads(row["attributes"][0]) == {"campaign": "spring"}


def test_replaying_an_event_id_adds_nothing_twice(client, shop, auth):
    ev = {"event_id": "dup-1", "event_type": "view", "session_id": "s-9", "item_id": "i000005"}
    for _ in range(3):
        assert (
            client.post(
                "/v1/feedback", json={"events": [ev, ev]}, params={"wait": True}, headers=auth
            ).status_code
            == 200
        )
    generated = client.post(
        "/v1/feedback",
        json={"events": [{**ev, "event_id": None}]},
        params={"wait": True},
        headers=auth,
    )
    new_id = generated.json()["event_ids"][0]
    assert new_id.startswith("fb-")
    assert len(_events_with(shop[0], ["dup-1"])) == 1
    assert len(_events_with(shop[0], [new_id])) == 1
    assert _feedback_quarantine(shop[0]) == 0  # duplicates are skipped, not quarantined
    # the whole log taken in again from the start (offsets lost) still adds nothing
    state = client.app.state.serve
    with open_workspace(shop[0]) as w:
        before = w.count("events")
    again = LogIngester(state.settings.feedback_dir, shop[0])
    again.offsets = {}
    result = again.take_in()
    assert (result.lines, result.already_present, result.added) == (
        7,
        2,
        0,
    )  # 7 lines, 2 distinct ids
    with open_workspace(shop[0]) as w:
        assert w.count("events") == before


def _ease(reg: Path) -> Recommender:
    return Recommender.load(Registry(reg).latest("recommend", "ease").path)


def test_feedback_changes_the_users_next_recommendations(client, shop, auth):
    model = _ease(shop[1])
    counts = np.diff(model.train_.indptr)
    u = int(np.argmin(np.abs(counts - 4)))
    user = str(model.users_.ids[u])
    before = client.get(f"/v1/recommendations/{user}", params={"k": 10}).json()
    assert before["source"] == "model"
    history = model.items_.decode(model.train_[u].indices).tolist()
    clicked = [
        i
        for i in model.items_.ids
        if i not in history and i not in {x["item_id"] for x in before["items"]}
    ][:3]
    events = [{"event_type": "click", "user_id": user, "item_id": i} for i in clicked]
    ack = client.post("/v1/feedback", json={"events": events}, headers=auth).json()
    assert ack["applied_online"] == 3
    after = client.get(f"/v1/recommendations/{user}", params={"k": 10}).json()
    assert after["source"] == "model+feedback"
    got = [x["item_id"] for x in after["items"]]
    assert got != [x["item_id"] for x in before["items"]]
    assert not set(clicked) & set(got)  # what they just clicked is now seen
    assert got == model.recommend_for_history(history + clicked, k=10)["item_id"].tolist()


def test_a_new_user_is_served_from_their_feedback(client, shop, auth):
    model = _ease(shop[1])
    items = model.items_.ids[:2].tolist()
    assert client.get("/v1/recommendations/brand-new").status_code == 404
    client.post(
        "/v1/feedback",
        json={
            "events": [{"event_type": "view", "user_id": "brand-new", "item_id": i} for i in items]
        },
        headers=auth,
    )
    r = client.get("/v1/recommendations/brand-new", params={"k": 5}).json()
    assert r["source"] == "feedback" and r["cold_start"] is False
    assert [x["item_id"] for x in r["items"]] == model.recommend_for_history(items, k=5)[
        "item_id"
    ].tolist()
    # searches and cart removals are recorded but do not count as interest
    ack = client.post(
        "/v1/feedback",
        json={"events": [{"event_type": "search", "user_id": "brand-new", "query": "kite"}]},
        headers=auth,
    )
    assert ack.json()["applied_online"] == 0
    # an anonymous session's events feed for-history
    client.post(
        "/v1/feedback",
        json={"events": [{"event_type": "view", "session_id": "sess-1", "item_id": items[0]}]},
        headers=auth,
    )
    h = client.post("/v1/recommendations/for-history", json={"session_id": "sess-1", "k": 3}).json()
    assert [x["item_id"] for x in h["items"]] == model.recommend_for_history(items[:1], k=3)[
        "item_id"
    ].tolist()


def test_another_workers_events_reach_the_writer_and_the_overlay(shop):
    """A second FeedbackService on the same folder stands in for another uvicorn worker. The
    writer's periodic take-in is set to a minute, so only the waiter's wake-up can commit."""
    with make_client(*shop, feedback_commit_interval_s=60.0) as client:
        state = client.app.state.serve
        other = FeedbackService(state.settings.feedback_dir, shop[0], Overlay(), interval_s=0.02)
        try:
            other._elect()
            assert not other.is_writer and state.feedback.is_writer
            ts = "2030-01-01T00:00:00+00:00"
            ack = other.submit(
                [
                    {
                        "event_id": "w2-1",
                        "event_type": "click",
                        "user_id": "u-far",
                        "item_id": "i000007",
                        "ts": ts,
                    }
                ]
            )
            assert other.wait_committed(ack, 20.0)  # wakes the writer through the wake file
            assert len(_events_with(shop[0], ["w2-1"])) == 1
            assert state.overlay.items("user", "u-far") == [
                "i000007"
            ]  # followed from the other log
        finally:
            other.stop()
        state.feedback.flush()  # the other log is complete and its owner gone: removed
        assert other.log.name not in {p.name for p in log_files(state.settings.feedback_dir)}


def test_a_crashed_writers_log_is_taken_in_without_its_torn_tail(shop):
    """Complete lines of a dead process's log reach the workspace; an unterminated last line
    (a write cut by the crash, never acknowledged) does not, and the file is then removed."""
    from shopml.serve.settings import ServeSettings

    folder = ServeSettings(shop[0], shop[1]).feedback_dir
    folder.mkdir(parents=True)
    dead = folder / "otherhost-999999-1700000000000000000-abcdef.jsonl"
    lines = [
        json.dumps(
            {
                "event_id": f"crash-{i}",
                "event_type": "view",
                "user_id": "u0000003",
                "item_id": "i000001",
                "ts": "2024-02-01T00:00:00+00:00",
            }
        )
        for i in range(3)
    ]
    dead.write_bytes(
        ("\n".join(lines) + "\n").encode() + lines[0].replace("crash-0", "crash-torn")[:40].encode()
    )
    with make_client(*shop) as c:
        c.app.state.serve.feedback.flush()
        c.app.state.serve.feedback.flush()
    assert len(_events_with(shop[0], [f"crash-{i}" for i in range(3)])) == 3
    assert len(_events_with(shop[0], ["crash-torn"])) == 0
    assert not dead.exists()


def test_group_commit_under_concurrent_appends(tmp_path):
    log = AppendLog(tmp_path, rotate_bytes=4096)  # small: rotates several times meanwhile
    acks, errors = [], []

    def worker(t: int) -> None:
        try:
            for i in range(50):
                line = json.dumps({"event_id": f"{t}-{i}", "pad": "x" * 30}).encode() + b"\n"
                acks.append(log.append(line))
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    log.close()
    assert not errors and len(acks) == 400
    files = log_files(tmp_path)
    assert len(files) > 1  # rotated
    ids = [json.loads(ln)["event_id"] for f in files for ln in f.read_bytes().splitlines()]
    assert sorted(ids) == sorted(f"{t}-{i}" for t in range(8) for i in range(50))
    sizes = {f.name: f.stat().st_size for f in files}
    assert all(offset <= sizes[name] for name, offset in acks)
    assert os.path.getsize(files[0]) >= 4096
