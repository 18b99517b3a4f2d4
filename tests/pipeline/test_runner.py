"""End to end: a tiny pipeline trains, evaluates, registers, records; unchanged steps are reused."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel

from shopml.data import Workspace
from shopml.pipeline import (
    StepResult,
    StepSkipped,
    load_run,
    parse_pipeline,
    register_step,
    run_pipeline,
)
from shopml.pipeline.steps import _STEPS, Leader
from shopml.recommend.base import Recommender
from shopml.registry import Registry
from tests.pipeline.conftest import run_tiny


def _step(record: dict, name: str) -> dict:
    return next(s for s in record["steps"] if s["name"] == name)


def test_tiny_pipeline_end_to_end(tiny_run):
    root, record = tiny_run
    assert record["run_id"] == "tiny/v0001"
    assert {s["name"]: s["status"] for s in record["steps"]} == {"recommend": "ok", "clv": "ok", "churn": "ok", "search": "ok"}
    rec = _step(record, "recommend")["result"]
    board = {r["model"]: r for r in rec["leaderboard"]}
    assert set(board) == {"popularity", "itemknn", "ease"} and board["popularity"]["baseline"]
    for row in rec["leaderboard"]:
        for metric, (lo, hi) in row["ci"].items():
            assert 0 <= lo <= row["metrics"][metric] <= hi <= 1, (row["model"], metric)
    assert rec["stats"]["test_users"] > 0 and rec["stats"]["train_interactions"] > 0
    # the registered recommender is the best row by ndcg@10, refitted on all data, and it serves
    best = max(rec["leaderboard"], key=lambda r: r["metrics"]["ndcg@10"])["model"]
    (reg,) = rec["registered"]
    assert reg["name"] == best
    registry = Registry(root / "registry")
    model = Recommender.load(registry.latest("recommend", best).path)
    with Workspace(root / "shop.duckdb", read_only=True) as ws:
        user = ws.sql("SELECT user_id FROM events WHERE user_id IS NOT NULL LIMIT 1")["user_id"][0]
        fingerprints = {t: ws.fingerprint(t) for t in ("events", "orders", "items")}
    assert len(model.recommend([user], k=5)) == 5
    clv = _step(record, "clv")["result"]
    assert clv["primary"] == "rmse" and not clv["higher_is_better"]  # CLV predicts a mean
    assert {r["model"] for r in clv["leaderboard"]} == {
        "BG/NBD", "seasonal BG/NBD", "past rate (baseline)", "mean rate (baseline)"}
    best_clv = min((r for r in clv["leaderboard"] if not r["baseline"]), key=lambda r: r["metrics"]["rmse"])
    (reg_clv,) = clv["registered"]
    assert reg_clv["capability"] == "clv" and reg_clv["model"] == best_clv["model"]
    clv_version = registry.latest("clv", reg_clv["name"])
    assert clv_version.config["pipeline"] == "tiny"
    from shopml.predict.clv import load_clv_model
    served = load_clv_model(clv_version)
    assert served.capability == "clv" and served.end_ == clv_version.config["data_until"]
    comparison = clv["stats"]["best_vs_baseline"]
    assert comparison["model"] == best_clv["model"] and comparison["ci"][0] <= comparison["diff"] <= comparison["ci"][1]
    churn = _step(record, "churn")["result"]
    assert [r["model"] for r in churn["leaderboard"]] == ["base rate (baseline)", "recency (baseline)", "logistic"]
    assert churn["leaderboard"][0]["metrics"]["auc"] == 0.5  # a constant ranks nothing
    for row in churn["leaderboard"]:
        assert 0 <= row["metrics"]["auprc"] <= 1
        for metric, (lo, hi) in row["ci"].items():
            assert lo <= row["metrics"][metric] <= hi, (row["model"], metric)
    assert [p["kind"] for p in churn["plots"]] == ["lines", "lines", "heatmap"]
    assert sum(map(sum, churn["plots"][2]["z"])) == churn["stats"]["test_rows"]
    assert registry.latest("predict", "churn").config["task"] == "churn"
    search = _step(record, "search")["result"]
    assert search["stats"]["queries"] > 0 and 0 < search["leaderboard"][0]["metrics"]["ndcg@10"] <= 1
    # the run record is in the registry with its config and the data fingerprints
    stored = load_run(root / "registry", "tiny")
    assert stored["run_id"] == "tiny/v0001" and stored["steps"] == record["steps"]
    assert {t: stored["data"]["fingerprints"][t] for t in fingerprints} == fingerprints
    assert stored["config"]["train"]["clv"] == {"holdout_days": 21}
    assert "name: tiny" in stored["yaml"]
    html = Path(record["report"]).read_text()
    for section in ('id="summary"', 'id="data"', 'id="recommend"', 'id="predict"', 'id="search"', 'id="step-clv"'):
        assert section in html


def test_unchanged_steps_are_reused_and_changes_rerun(tiny_run):
    root, _ = tiny_run
    registry = Registry(root / "registry")
    counts = {m.name: len(registry.versions(m.capability, m.name)) for m in registry.list() if m.capability != "runs"}
    again = run_tiny(root)
    assert {s["status"] for s in again["steps"]} == {"cached"}
    assert again["run_id"] == "tiny/v0002"
    assert _step(again, "recommend")["result"]["leaderboard"] == _step(load_run(root / "registry", "tiny/v0001"), "recommend")["result"]["leaderboard"]
    assert {m.name: len(registry.versions(m.capability, m.name)) for m in registry.list() if m.capability != "runs"} == counts
    # a changed step config reruns that step only
    changed = run_tiny(root, holdout=28)
    assert {s["name"]: s["status"] for s in changed["steps"]} == {"recommend": "cached", "clv": "ok", "churn": "cached", "search": "cached"}
    clv_names = [m.name for m in registry.list() if m.capability == "clv"]
    assert sum(len(registry.versions("clv", n)) for n in clv_names) == (
        counts.get("btyd", 0) + counts.get("seasonal", 0) + 1)
    # new events change the fingerprint of the tables recommend and search read, not clv's
    with Workspace(root / "shop.duckdb") as ws:
        row = ws.sql("SELECT user_id, session_id, item_id, ts FROM events WHERE item_id IS NOT NULL LIMIT 1")
        ws.append("events", row.assign(event_type="view", ts=row["ts"] + pd.Timedelta(seconds=1)))
    moved = run_tiny(root, holdout=28)
    assert {s["name"]: s["status"] for s in moved["steps"]} == {"recommend": "ok", "clv": "cached", "churn": "cached", "search": "ok"}
    # --no-cache runs everything
    assert {s["status"] for s in run_tiny(root, holdout=28, use_cache=False)["steps"]} == {"ok"}


def test_cache_is_not_used_when_its_models_are_gone(tiny_run, tmp_path):
    root, record = tiny_run
    copy = tmp_path / "copy"
    shutil.copytree(root, copy)
    again = run_tiny(copy)  # same config and data: cached
    assert _step(again, "clv")["status"] == "cached"
    shutil.rmtree(copy / "registry" / "clv")
    assert _step(run_tiny(copy), "clv")["status"] == "ok"


def test_generic_files_with_na_values_and_quarantine(tmp_path):
    rng = np.random.default_rng(0)
    n = 600
    users = rng.integers(0, 60, n).astype(str).astype(object)
    users[:40] = "NA"
    frame = pd.DataFrame({
        "visitor": users,
        "visit": [f"s{i // 3}" for i in range(n)],  # anonymous rows keep their session
        "product": rng.integers(0, 30, n),
        "when": (pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 90 * 86400, n), unit="s")).astype(str),
    })
    frame.loc[5, "when"] = "not a time"
    frame.to_csv(tmp_path / "log.csv", index=False)
    text = f"""
name: generic
workspace: {tmp_path}/ws.duckdb
registry: {tmp_path}/registry
data:
  sources:
    - file: {tmp_path}/log.csv
      table: events
      map: {{user_id: visitor, session_id: visit, item_id: product, ts: when}}
      defaults: {{event_type: view}}
      na_values: [NA]
train:
  recommend: {{models: [itemknn], test_days: 20}}
evaluate: {{bootstrap: 100}}
register: none
"""
    record = run_pipeline(parse_pipeline(text), source_text=text)
    (report,) = record["data"]["ingest"]
    assert (report["rows_read"], report["rows_quarantined"]) == (n, 1)
    assert record["data"]["info"]["quarantine"]["rows"] == 1
    with Workspace(tmp_path / "ws.duckdb", read_only=True) as ws:
        assert ws.sql("SELECT count(*) AS n FROM events WHERE user_id IS NULL")["n"][0] == 40 - 1  # row 5: bad time
        assert ws.sql("SELECT count(*) AS n FROM events WHERE user_id = 'NA'")["n"][0] == 0
    step = _step(record, "recommend")
    assert step["status"] == "ok" and step["result"]["registered"] == []
    # ingesting the same file again adds nothing
    again = run_pipeline(parse_pipeline(text), source_text=text)
    assert again["data"]["ingest"][0]["skipped"] and _step(again, "recommend")["status"] == "cached"


class _ToyConfig(BaseModel):
    fail: bool = False
    skip: bool = False


def test_new_capabilities_plug_in_and_failures_are_recorded(tiny_run, tmp_path):
    root, _ = tiny_run

    @register_step("toy", _ToyConfig, tables=("orders",))
    def toy(ctx, cfg):
        if cfg.fail:
            raise RuntimeError("toy broke")
        if cfg.skip:
            raise StepSkipped("nothing to do")
        n = ctx.workspace.count("orders")
        return StepResult("toy", "count the orders", "orders", leaderboard=[Leader("counter", {"orders": n})])

    try:
        text = f"""
name: toy
workspace: {root}/shop.duckdb
registry: {tmp_path}/registry
data: {{simulate: {{users: 400, items: 80, days: 90, seed: 1, options: {{session_rate: 0.3}}}}}}
train:
  toy: {{}}
"""
        record = run_pipeline(parse_pipeline(text), source_text=text)
        assert _step(record, "toy")["status"] == "ok"
        assert _step(record, "toy")["result"]["leaderboard"][0]["metrics"]["orders"] > 0
        for key, status in (("fail", "failed"), ("skip", "skipped")):
            bad = text.replace("toy: {}", f"toy: {{{key}: true}}")
            step = _step(run_pipeline(parse_pipeline(bad), source_text=bad), "toy")
            assert step["status"] == status
            assert ("toy broke" in step["reason"]) if key == "fail" else step["reason"] == "nothing to do"
    finally:
        _STEPS.pop("toy", None)


def test_another_simulation_in_the_workspace_is_refused(tiny_run):
    root, _ = tiny_run
    text = tiny_text_other(root)
    with pytest.raises(Exception, match="another simulated shop"):
        run_pipeline(parse_pipeline(text), source_text=text)


def tiny_text_other(root: Path) -> str:
    from tests.pipeline.conftest import tiny_text

    return tiny_text(root).replace("seed: 1", "seed: 2")
