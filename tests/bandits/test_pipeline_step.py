"""The ``bandits`` pipeline step on a small simulated shop's logged impressions."""

from shopml.pipeline import parse_pipeline, run_pipeline


def test_bandits_step_evaluates_candidates_off_policy(tmp_path):
    text = f"""
name: bandits-only
workspace: {tmp_path}/ws.duckdb
registry: {tmp_path}/registry
data:
  simulate: {{users: 600, items: 60, days: 60, seed: 2, options: {{session_rate: 0.3}}}}
train:
  bandits: {{models: [epsilon_greedy, linear_ts], n_arms: 10}}
evaluate: {{bootstrap: 50}}
register: best
"""
    record = run_pipeline(parse_pipeline(text), source_text=text)
    (step,) = record["steps"]
    assert step["status"] == "ok", step.get("reason")
    res = step["result"]
    names = [r["model"] for r in res["leaderboard"]]
    assert names[0].startswith("logged policy") and "uniform (baseline)" in names
    assert {"epsilon_greedy", "linear_ts"} <= set(names)
    for row in res["leaderboard"][1:]:
        lo, hi = row["ci"]["dr"]
        assert lo <= row["metrics"]["dr"] <= hi
    assert res["registered"] and res["registered"][0]["name"] in ("epsilon_greedy", "linear_ts")
