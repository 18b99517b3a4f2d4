"""The ``forecast`` and ``inventory`` pipeline steps on a small simulated shop."""

from __future__ import annotations

import pytest

from shopml.pipeline import parse_pipeline, run_pipeline

PIPE = """\
name: fc
workspace: {root}/shop.duckdb
registry: {root}/registry
data:
  simulate: {{users: 300, items: 40, days: 140, seed: 3, options: {{session_rate: 0.3}}}}
train:
  forecast:
    models: [lightgbm]
    h: 2
    test: 3
    top: 30
    serve_h: 4
    params: {{lightgbm: {{n_estimators: 30, num_leaves: 8, min_child_samples: 5}}}}
  inventory:
    forecaster: lightgbm
    reviews: 3
    top: 20
register: best
report: {root}/report.html
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("fcpipe")
    text = PIPE.format(root=root)
    return root, run_pipeline(parse_pipeline(text, "fc.yaml"), source_text=text, use_cache=False)


def _step(record, name):
    steps = record["steps"] if isinstance(record, dict) else record.steps
    found = [s for s in steps if (s["name"] if isinstance(s, dict) else s.name) == name]
    assert found, f"no step {name} in the run"
    return found[0]


def test_forecast_step_scores_and_registers(run):
    root, record = run
    step = _step(record, "forecast")
    res = step["result"] if isinstance(step, dict) else step.result
    assert res["primary"] == "wape"
    names = [r["model"] for r in res["leaderboard"]]
    assert "lightgbm" in names
    assert all("mase" in r["metrics"] for r in res["leaderboard"])
    assert res["registered"] and (root / "registry" / "forecast" / "lightgbm").is_dir()


def test_inventory_step_replays_policies(run):
    _, record = run
    step = _step(record, "inventory")
    res = step["result"] if isinstance(step, dict) else step.result
    models = [r["model"] for r in res["leaderboard"]]
    assert any(m.startswith("rule") for m in models) and any(
        m.startswith("lightgbm") for m in models
    )
    for r in res["leaderboard"]:
        assert 0 <= r["metrics"]["fill_rate"] <= 1
