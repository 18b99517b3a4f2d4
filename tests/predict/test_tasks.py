"""Tasks on a workspace: training data never looks past its cutoff, train/register/score, CLI
(churn, fraud, ctr, conversion)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shopml.cli import app
from shopml.core.errors import ValidationError
from shopml.data import Workspace
from shopml.predict.decision import bayes_threshold
from shopml.predict.tasks import (
    churn_orders,
    load_task,
    make_model,
    score_task,
    scoring_data,
    sequence_groups,
    task_options,
    train_task,
    training_data,
    value_costs,
)
from shopml.registry import Registry
from tests.predict.shop import CHURN_OPTIONS, build_shop


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return build_shop(tmp_path_factory.mktemp("shop") / "shop.duckdb")


def test_churn_training_labels_end_before_the_validation_labels(shop):
    opts = task_options("churn", CHURN_OPTIONS)
    with Workspace(shop, read_only=True) as ws:
        Xtr, ytr, Xv, yv, info = training_data("churn", ws, opts)
        orders = churn_orders(ws)
    last = orders["ts"].max().floor("D")
    assert pd.Timestamp(info["validation_cutoff"]) == last - pd.Timedelta(days=30)
    for c in info["train_cutoffs"]:  # training labels end a step or more before the validation cutoff + horizon
        assert pd.Timestamp(c) + pd.Timedelta(days=30) <= last - pd.Timedelta(days=14)
    assert len(Xtr) == len(ytr) and len(Xv) == len(yv) and set(np.unique(ytr)) == {0.0, 1.0}


def test_unknown_task_and_option_are_named():
    with pytest.raises(ValidationError, match="unknown predict task 'uplift'"):
        task_options("uplift")
    with pytest.raises(ValidationError, match="horizon_days"):
        task_options("churn", {"horizon_days": 30})


def test_train_register_score_and_cli(shop, tmp_path):
    reg = tmp_path / "reg"
    mv = train_task(shop, reg, "fraud", "lightgbm", params={"n_estimators": 50}, options={"validation_fraction": 0.3})
    assert mv.name == "fraud" and 0 <= mv.metrics["validation_auc"] <= 1
    loaded = load_task(Registry(reg), mv)
    with Workspace(shop, read_only=True) as ws:
        ids, X = scoring_data("fraud", ws, task_options("fraud"))
    s = score_task(loaded, X)
    assert len(s) == len(ids) and set(s.columns) == {"p_raw", "probability", "threshold", "decision"}
    # the threshold is the Bayes one: review 5 vs a missed fraud's value + 15
    np.testing.assert_allclose(s["threshold"], 5 / (X["purchase_value"] + 15))
    runner = CliRunner()
    r = runner.invoke(app, ["train", "predict", "--task", "churn", "-w", str(shop), "-r", str(reg), "-m", "logistic",
                            "--options", "horizon=30,step=14,n_train=2"])
    assert r.exit_code == 0, r.output
    assert "registered predict/churn v0001" in r.output
    out = tmp_path / "scores.parquet"
    r = runner.invoke(app, ["predict", "--task", "churn", "-w", str(shop), "-r", str(reg), "--out", str(out)])
    assert r.exit_code == 0, r.output
    scores = pd.read_parquet(out)
    assert list(scores.columns[:3]) == ["user_id", "p_raw", "probability"] and scores["user_id"].is_unique
    r = runner.invoke(app, ["predict", "--task", "churn", "-w", str(shop), "-r", str(tmp_path / "empty"), "--out", str(out)])
    assert r.exit_code == 2 and "error" in r.output
    r = runner.invoke(app, ["train", "predict", "--task", "fraud", "-w", str(shop), "-r", str(reg), "-m", "xgboost"])
    assert r.exit_code == 2 and "unknown model 'xgboost'" in r.output


# ----------------------------------------------------------------------------- ctr, conversion
FAST = {"epochs": 2, "patience": None, "hidden": [16], "embedding_dim": 4}


def test_value_costs_act_when_the_expected_value_pays_for_the_action():
    assert bayes_threshold(value_costs(2.0, 0.5)) == pytest.approx(0.25)
    assert bayes_threshold(value_costs(1.0, 0.01)) == pytest.approx(0.01)


def test_sequence_groups_and_models_per_task():
    cols = ["item_1", "item_2", "gap_1", "gap_2", "item_sales_1", "item_sales_2", "user_known", "start_dow"]
    assert sequence_groups(cols) == ["item", "gap", "item_sales"]
    # the first group decides a row's length: a group that misses steps (a search has no item) goes last
    X = pd.DataFrame([["a", None, 0.0, 1.0, 0.0, 0.0, 1.0, "1"]], columns=cols)
    assert sequence_groups(cols, X) == ["gap", "item_sales", "item"]
    assert make_model("gru", "conversion", columns=cols).sequences == ["item", "gap", "item_sales"]
    with pytest.raises(ValidationError, match=r"unknown model 'gru' for task 'ctr'.*for tasks \['conversion'\]"):
        make_model("gru", "ctr")
    with pytest.raises(ValidationError, match="unknown model 'deepfm' for task 'churn'"):
        make_model("deepfm", "churn")
    with pytest.raises(ValidationError, match=r"unknown parameter\(s\) \['hidden'\] for model 'gru'"):
        make_model("gru", "conversion", params={"hidden": [8]})


def test_ctr_validates_on_the_latest_impressions(shop):
    with Workspace(shop, read_only=True) as ws:
        Xtr, ytr, Xv, yv, info = training_data("ctr", ws, task_options("ctr"))
        ts = ws.sql("SELECT max(ts) AS t FROM impressions")["t"].iloc[0]
    n = len(ytr) + len(yv)
    assert len(yv) == round(0.2 * n) and list(Xtr.columns) == list(Xv.columns)
    assert pd.Timestamp(info["train_until"]) <= pd.Timestamp(info["validation_until"]) == pd.Timestamp(ts)
    assert {"position", "item"} <= set(Xtr.columns) and 0 < ytr.mean() < 1 and 0 < yv.mean() < 1


def test_ctr_trains_and_scores_from_the_cli(shop, tmp_path):
    reg, out = tmp_path / "reg", tmp_path / "ctr.parquet"
    runner = CliRunner()
    for model in ("lightgbm", "deepfm", "dcn"):
        params = "n_estimators=200" if model == "lightgbm" else json.dumps(FAST)
        r = runner.invoke(app, ["train", "predict", "--task", "ctr", "-w", str(shop), "-r", str(reg), "-m", model,
                                "--params", params, "--name", f"ctr-{model}"])
        assert r.exit_code == 0, r.output
        assert f"registered predict/ctr-{model} v0001" in r.output
    mv = Registry(reg).latest("predict", "ctr-lightgbm")
    # the simulator's clicks depend on position and the user's taste: held-out validation AUC
    assert mv.metrics["validation_auc"] > 0.6 and mv.meta["config"]["entity"] == "impression_id"
    r = runner.invoke(app, ["predict", "--task", "ctr", "-w", str(shop), "-r", str(reg), "--name", "ctr-dcn", "--out", str(out)])
    assert r.exit_code == 0, r.output
    scores = pd.read_parquet(out)
    with Workspace(shop, read_only=True) as ws:
        ids = ws.sql("SELECT impression_id FROM impressions")["impression_id"]
    assert list(scores.columns[:3]) == ["impression_id", "p_raw", "probability"]
    assert scores["impression_id"].is_unique and set(scores["impression_id"]) == set(ids)
    # the default decision: show when P(click) >= impression_cost / click_value = 0.01
    np.testing.assert_allclose(scores["threshold"], 0.01)
    assert (scores["decision"] == (scores["probability"] >= 0.01)).all()
    assert scores["probability"].between(0, 1).all() and scores["probability"].nunique() > 1


def test_conversion_gru_trains_and_scores(shop, tmp_path):
    reg = tmp_path / "reg"
    opts = {"n": 2, "action_cost": 0.2}
    mv = train_task(shop, reg, "conversion", "gru", params={"epochs": 2, "patience": None, "embedding_dim": 4, "hidden_size": 8, "head": [8]}, options=opts)
    cfg = mv.meta["config"]
    # the simulator's sessions open with searches (no item): the gap steps decide the length
    assert cfg["entity"] == "session_id" and cfg["params"]["sequences"][0] == "gap"
    assert set(cfg["params"]["sequences"]) >= {"item", "category", "gap"} and 0 <= mv.metrics["validation_auc"] <= 1
    loaded = load_task(Registry(reg), mv)
    with Workspace(shop, read_only=True) as ws:
        ids, X = scoring_data("conversion", ws, task_options("conversion", opts))
        # sessions that reached their 2nd browsing event without buying
        n_sessions = ws.sql("SELECT count(DISTINCT session_id) AS n FROM events WHERE session_id IS NOT NULL")["n"].iloc[0]
    assert len(ids) == len(set(ids)) and 0 < len(ids) < n_sessions and "item_2" in X.columns
    s = score_task(loaded, X)
    np.testing.assert_allclose(s["threshold"], 0.2)  # action_cost / conversion_value
    assert (s["decision"] == (s["probability"] >= 0.2)).all()
    # the CLI scores the same model the same way
    out = tmp_path / "conv.parquet"
    r = CliRunner().invoke(app, ["predict", "--task", "conversion", "-w", str(shop), "-r", str(reg), "--out", str(out)])
    assert r.exit_code == 0, r.output
    got = pd.read_parquet(out)
    assert got["session_id"].tolist() == list(ids)
    np.testing.assert_allclose(got["probability"], s["probability"], rtol=1e-6)
