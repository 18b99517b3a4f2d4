"""Batch inference: the local engine equals direct calls; the Ray engine equals the local one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shopml.cli import app
from shopml.core.errors import DataError, ValidationError
from shopml.distributed.batch import BatchJob, recommend_job, run_batch
from shopml.predict.clv import load_clv_model, workspace_orders
from shopml.predict.clv import train_and_register as clv_train
from shopml.predict.linear import LogisticRegression
from shopml.recommend.base import Recommender
from shopml.registry import Registry
from tests.predict.contract import toy_frame

runner = CliRunner()


def cli(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result.output


def cli_error(*args: object) -> str:
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 2, result.output
    return result.output


def ease(reg: Path) -> Recommender:
    registry = Registry(reg)
    return Recommender.load(registry.latest("recommend", "ease").path)


@pytest.fixture(scope="module")
def classifier_shop(shop, tmp_path_factory) -> tuple[Path, Path, pd.DataFrame]:
    """A registry holding a classifier and a CLV model; Parquet rows to score."""
    ws, _ = shop
    root = tmp_path_factory.mktemp("predict")
    reg = Registry(root / "registry")
    X, y = toy_frame(n=600)
    model = LogisticRegression().fit(X, y)
    reg.register("predict", "toy", model.save, config={"task": "classify"})
    clv_train(ws, reg, "btyd", horizon_days=90.0)
    rows = X.assign(row_id=[f"r{i}" for i in range(len(X))], label=y)
    path = root / "rows.parquet"
    rows.to_parquet(path)
    return root / "registry", path, rows


def test_local_recommend_is_every_users_top_k(shop, tmp_path):
    ws, reg = shop
    out = tmp_path / "local.parquet"
    text = cli("batch", "recommend", "-w", ws, "-r", reg, "--out", out, "-k", 5, "--batch-size", 64)
    model = ease(reg)
    got = pd.read_parquet(out)
    want = model.recommend(model.users_.ids, k=5)
    pd.testing.assert_frame_equal(got, want, check_exact=True)
    sizes = got.groupby("user_id").size()
    # a heavy user of this 60-item shop may have fewer than 5 unseen items left
    assert got["user_id"].nunique() == len(model.users_) and sizes.max() == 5 and (sizes == 5).mean() > 0.9
    assert f"for {len(model.users_)} users" in text


def test_ray_recommend_equals_local(shop, tmp_path, ray_local):
    ws, reg = shop
    paths = {e: tmp_path / f"{e}.parquet" for e in ("local", "ray")}
    for engine, out in paths.items():
        cli("batch", "recommend", "-w", ws, "-r", reg, "--out", out, "-k", 10, "--batch-size", 64, "--engine", engine)
    local, distributed = (pd.read_parquet(p) for p in paths.values())
    assert local["user_id"].nunique() == len(ease(reg).users_)
    pd.testing.assert_frame_equal(distributed, local, check_exact=True)


def test_ray_predict_equals_local(classifier_shop, tmp_path, ray_local):
    reg, rows_path, rows = classifier_shop
    paths = {e: tmp_path / f"{e}.parquet" for e in ("local", "ray")}
    for engine, out in paths.items():
        cli("batch", "predict", "-r", reg, "-m", "toy", "--input", rows_path, "--out", out, "--batch-size", 128, "--engine", engine)
    local, distributed = (pd.read_parquet(p) for p in paths.values())
    pd.testing.assert_frame_equal(distributed, local, check_exact=True)
    # ids and labels pass through; probabilities are the model's
    model = LogisticRegression.load(Registry(reg).latest("predict", "toy").path)
    assert list(local.columns) == ["row_id", "label", "probability"]
    assert local["row_id"].tolist() == rows["row_id"].tolist()
    np.testing.assert_array_equal(local["probability"].to_numpy(), model.predict_proba(rows))


def test_local_clv_covers_every_customer(shop, classifier_shop, tmp_path):
    ws, _ = shop
    reg, _, _ = classifier_shop
    out = tmp_path / "clv.parquet"
    cli("batch", "clv", "-w", ws, "-r", reg, "--out", out, "--options", "batch_size=50")
    got = pd.read_parquet(out)
    model = load_clv_model(Registry(reg).latest("clv", "btyd"))
    want = model.predict(workspace_orders(ws), horizon_days=90.0)
    assert got["user_id"].tolist() == sorted(want.index)
    want = want.loc[got["user_id"]]
    np.testing.assert_allclose(got["clv"].to_numpy(), want["clv"].to_numpy(), rtol=1e-9)
    assert (got["p_alive"].between(0, 1)).all() and (got["clv"] >= 0).all()


def test_predictor_needs_rows(classifier_shop, tmp_path):
    reg, _, _ = classifier_shop
    assert "--input" in cli_error("batch", "predict", "-r", reg, "-m", "toy", "--out", tmp_path / "x.parquet")


def test_bad_requests_say_what_is_wrong(shop, tmp_path):
    ws, reg = shop
    assert ".parquet" in cli_error("batch", "recommend", "-w", ws, "-r", reg, "--out", tmp_path / "x.csv")
    assert "engine" in cli_error("batch", "recommend", "-r", reg, "--out", tmp_path / "x.parquet", "--engine", "spark")
    assert "--engine ray" in cli_error(
        "batch", "recommend", "-r", reg, "--out", tmp_path / "x.parquet", "--address", "auto"
    )
    assert "no recommender" in cli_error("batch", "recommend", "-r", tmp_path / "empty", "--out", tmp_path / "x.parquet")
    assert not (tmp_path / "x.parquet").exists()
    model = ease(reg)
    with pytest.raises(ValidationError, match="unknown user"):
        recommend_job(model, users=["nobody"])
    with pytest.raises(DataError, match="nothing to score"):
        run_batch(BatchJob("empty", pd.DataFrame({"user_id": []}), model, lambda m, b: b), tmp_path / "e.parquet")


def test_workspace_users_get_cold_start_answers(shop, tmp_path):
    ws, reg = shop
    out = tmp_path / "all.parquet"
    cli("batch", "recommend", "-w", ws, "-r", reg, "--out", out, "--users", "workspace", "-k", 3)
    got = pd.read_parquet(out)
    from shopml.data import Workspace

    with Workspace(ws, read_only=True) as w:
        everyone = set(w.sql("SELECT user_id FROM users")["user_id"])
    model = ease(reg)
    assert set(got["user_id"]) == everyone and len(everyone) > len(model.users_)
    # a user without history gets the items most interacted with
    cold = sorted(everyone - set(model.users_.ids))[0]
    popular = model.recommend([cold], k=3, unknown="popular")["item_id"].tolist()
    assert got.loc[got.user_id == cold, "item_id"].tolist() == popular


def test_task_model_scores_every_customer_like_shopml_predict(shop, tmp_path):
    """A churn model from shopml.predict.tasks: without --input, every customer the task scores
    now, with the same calibrated probabilities as score_task."""
    from shopml.data import Workspace
    from shopml.predict.tasks import load_task, score_task, scoring_data, task_options, train_task

    ws, _ = shop
    reg = tmp_path / "registry"
    options = {"horizon": 7, "step": 7, "n_train": 2}  # a 30-day shop
    mv = train_task(ws, reg, "churn", model="logistic", options=options)
    out = tmp_path / "churn.parquet"
    cli("batch", "predict", "-w", ws, "-r", reg, "-m", "churn", "--out", out, "--batch-size", 50)
    got = pd.read_parquet(out)
    loaded = load_task(Registry(reg), mv)
    with Workspace(ws, read_only=True) as w:
        ids, X = scoring_data("churn", w, task_options("churn", options))
    want = score_task(loaded, X)
    assert got["user_id"].tolist() == list(ids)
    np.testing.assert_array_equal(got["probability"].to_numpy(), want["probability"].to_numpy())
    assert list(got.columns) == ["user_id", *want.columns]
