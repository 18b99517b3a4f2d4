"""The search step on human relevance judgements: graded gains, every method from the catalogue."""

from __future__ import annotations

import pandas as pd

from shopml.pipeline import parse_pipeline, run_pipeline


def test_search_step_scores_judged_queries(tmp_path):
    pd.DataFrame({
        "id": ["a", "b", "c", "d", "e", "f"],
        "name": ["red cotton shirt", "blue cotton shirt", "steel hammer", "claw hammer", "garden hose", "red wine glass"],
    }).to_csv(tmp_path / "items.csv", index=False)
    pd.DataFrame({
        "jid": ["1", "2", "3", "4", "5"],
        "q": ["red shirt", "red shirt", "hammer", "hammer", "hose"],
        "item": ["a", "b", "c", "d", "e"],
        "grade": ["3", "2", "3", "1", "3"],  # Home Depot's 1..3: gain = grade - 1
    }).to_csv(tmp_path / "judged.csv", index=False)
    text = f"""
name: search-only
workspace: {tmp_path}/ws.duckdb
registry: {tmp_path}/registry
data:
  sources:
    - {{file: {tmp_path}/items.csv, table: items, map: {{item_id: id, title: name}}}}
    - {{file: {tmp_path}/judged.csv, table: relevance_judgements, map: {{judgement_id: jid, query: q, item_id: item, relevance: grade}}}}
train:
  search: {{encoder: null, k: 3, test_share: 0.99}}  # every query a test query
evaluate: {{bootstrap: 100}}
"""
    record = run_pipeline(parse_pipeline(text), source_text=text)
    (step,) = record["steps"]
    assert step["status"] == "ok", step.get("reason")
    res = step["result"]
    assert res["stats"]["queries"] == 3 and res["stats"]["judged_pairs"] == 4  # grade 1 gains nothing
    (bm25,) = res["leaderboard"]
    # "red shirt": a (gain 2) first, b (gain 1) second: ideal; "hammer": c is the only gain and
    # ranks first or second; "hose": e first. NDCG@3 is 1 where the gains are in ideal order.
    assert 0.8 < bm25["metrics"]["ndcg@3"] <= 1.0 and bm25["metrics"]["recall@3"] == 1.0
    assert res["registered"][0]["name"] == "engine"
