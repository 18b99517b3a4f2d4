"""Steps on a simulated shop with its truth beside the workspace: oracle columns, paired
comparisons with the best baseline, calibration that keeps the ranking, learned search."""

from __future__ import annotations

import numpy as np
import pytest

from shopml.data.synth import simulate
from shopml.data.synth.result import truth_file
from shopml.pipeline import parse_pipeline, run_pipeline
from shopml.pipeline.churn import MIN_ISOTONIC_CLASS, _calibration_kind

SHOP = """\
name: oracle
workspace: {root}/shop.duckdb
registry: {root}/registry
data:
  simulate: {{users: 1500, items: 80, days: 150, seed: 3, options: {{session_rate: 0.05}}}}
train:
  clv: {{holdout_days: 30, models: [btyd]}}
  churn: {{models: [logistic], horizon: 30, step: 30, n_train: 2}}
  search: {{encoder: null, max_queries: 300}}
evaluate: {{bootstrap: 200}}
register: none
"""


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    root = tmp_path_factory.mktemp("oracle")
    text = SHOP.format(root=root)
    cfg = parse_pipeline(text, "oracle.yaml")
    simulate(cfg.data.simulate.sim_config()).save_truth(truth_file(cfg.workspace))
    record = run_pipeline(cfg, source_text=text)
    return {s["name"]: s for s in record["steps"]}


def test_churn_oracle_and_paired_comparison(run):
    res = run["churn"]["result"]
    oracle = res["stats"]["oracle"]
    assert oracle["model"].startswith("oracle")
    lo, hi = oracle["ci"]["auprc"]
    assert lo <= oracle["metrics"]["auprc"] <= hi
    # the truth knows who left and how often they visit: it ranks better than recency
    recency = next(r for r in res["leaderboard"] if r["model"] == "recency (baseline)")
    assert oracle["metrics"]["auprc"] > recency["metrics"]["auprc"]
    vs = res["stats"]["best_vs_baseline"]
    assert vs["metric"] == "auprc" and vs["ci"][0] <= vs["diff"] <= vs["ci"][1]
    assert any(n.startswith(vs["model"]) and "AUPRC" in n for n in res["notes"])


def test_calibration_never_flattens_a_ranking(run):
    res = run["churn"]["result"]
    for row in res["leaderboard"]:
        # the step gives intervals only to non-constant scores; the base rate is the constant
        assert ("auprc" in row["ci"]) == (row["model"] != "base rate (baseline)"), row["model"]
    assert set(res["stats"]["calibration"].values()) <= {"isotonic", "platt"}
    assert _calibration_kind(np.r_[np.ones(MIN_ISOTONIC_CLASS - 1), np.zeros(500)]) == "platt"
    assert _calibration_kind(np.r_[np.ones(MIN_ISOTONIC_CLASS), np.zeros(500)]) == "isotonic"


def test_clv_oracle(run):
    res = run["clv"]["result"]
    oracle = res["stats"]["oracle"]
    assert oracle["metrics"]["mae"] > 0 and "rmse" in oracle["metrics"]
    assert res["primary"] == "rmse"  # a mean is scored by squared error (Gneiting 2011)
    vs = res["stats"]["best_vs_baseline_mae"]
    assert vs["metric"] == "mae" and vs["ci"][0] <= vs["diff"] <= vs["ci"][1]
    sq = res["stats"]["best_vs_baseline"]
    assert sq["metric"] == "mse" and sq["ci"][0] <= sq["diff"] <= sq["ci"][1]


def test_search_learns_on_training_queries_and_is_judged_on_others(run):
    res = run["search"]["result"]
    names = [r["model"] for r in res["leaderboard"]]
    assert names[0] == "bm25" and "hybrid + LambdaMART re-ranker" in names
    assert res["stats"]["train_queries"] > 0 and res["stats"]["queries"] > 0
    vs = res["stats"]["best_vs_baseline"]
    assert vs["baseline"] == "bm25" and vs["ci"][0] <= vs["diff"] <= vs["ci"][1]
