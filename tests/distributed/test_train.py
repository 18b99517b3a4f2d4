"""Ray Train: SASRec and DeepFM trained data-parallel (2 workers, DDP over gloo) learn, save and load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from shopml.cli import app
from shopml.core.errors import ValidationError
from shopml.distributed.train import fit_data_parallel, predictor_fit, supports_data_parallel
from shopml.evaluation.classification import roc_auc
from shopml.predict.base import load_predictor
from shopml.predict.dcn import DCNv2Classifier
from shopml.predict.deepfm import DeepFMClassifier
from shopml.predict.linear import LogisticRegression
from shopml.recommend.base import Recommender
from shopml.recommend.ease import EASE
from shopml.recommend.sasrec import SASRec
from tests.recommend.test_sasrec import cycle_sequences, small


def test_only_models_with_a_training_step():
    assert supports_data_parallel(small()) and not supports_data_parallel(EASE())
    with pytest.raises(ValidationError, match="training step"):
        fit_data_parallel(EASE(), cycle_sequences())
    with pytest.raises(ValidationError, match="num_workers"):
        fit_data_parallel(small(), cycle_sequences(), num_workers=0)


def test_two_workers_learn_the_next_item(tmp_path, ray_local):
    model = small(num_negatives=8, epochs=30, batch_size=16)
    fitted = fit_data_parallel(model, cycle_sequences(), num_workers=2, storage_path=tmp_path / "ray")
    assert isinstance(fitted, SASRec) and fitted.get_params() == model.get_params()
    assert fitted.train_info_["workers"] == 2 and fitted.train_info_["steps_per_epoch"] == 2
    losses = [r["loss"] for r in fitted.loss_history_]
    assert len(losses) == 30 and losses[-1] < 0.6 * losses[0]
    hits = [
        fitted.recommend_for_history([f"i{(s + t) % 20}" for t in range(4)], k=1).item_id.iloc[0]
        == f"i{(s + 4) % 20}"
        for s in range(0, 20, 3)
    ]
    assert np.mean(hits) >= 0.85
    # an ordinary fitted model: saved, loaded, recommending the same lists
    fitted.save(tmp_path / "model")
    again = Recommender.load(tmp_path / "model")
    users = fitted.users_.ids[:5]
    assert again.recommend(users, k=3).equals(fitted.recommend(users, k=3))


def toy_ctr(n: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Clicks decided by a numeric feature plus a category's sign: separable, no label noise."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    shop = rng.integers(0, 8, size=n)
    y = ((x + np.where(shop % 2 == 0, 1.0, -1.0)) > 0).astype(int)
    return pd.DataFrame({"x": x, "shop": [f"s{s}" for s in shop]}), y


def test_torch_predictors_share_the_training_step():
    assert supports_data_parallel(DeepFMClassifier) and supports_data_parallel(DCNv2Classifier())
    assert not supports_data_parallel(LogisticRegression())


def test_two_workers_train_a_deepfm(tmp_path, ray_local):
    X, y = toy_ctr(2000, seed=0)
    Xt, yt = toy_ctr(1000, seed=1)  # held out: never seen in training
    model = DeepFMClassifier(
        embedding_dim=4, hidden=(16,), dropout=0.0, epochs=2, batch_size=64, lr=1e-2, patience=3
    )
    fitted = fit_data_parallel(model, X, y, num_workers=2, storage_path=tmp_path / "ray")
    assert isinstance(fitted, DeepFMClassifier) and fitted.get_params() == model.get_params()
    # 2000 rows in 32 batches of 64, shared by 2 workers: 16 steps each per epoch, all rows used
    assert fitted.train_info_ == {**fitted.train_info_, "workers": 2, "steps_per_epoch": 16}
    assert [r["epoch"] for r in fitted.history_] == [0.0, 1.0] and fitted.best_epoch_ == 1
    assert not hasattr(fitted, "_train_data_")  # the rows are not kept in the model
    p = fitted.predict_proba(Xt)
    assert roc_auc(yt, p) > 0.95
    fitted.save(tmp_path / "deepfm")
    again = load_predictor(tmp_path / "deepfm")
    np.testing.assert_allclose(again.predict_proba(Xt), p, rtol=1e-6)


def test_train_predict_engine_options(tmp_path):
    assert predictor_fit("local") is None
    with pytest.raises(ValidationError, match="needs --engine ray"):
        predictor_fit("local", workers=2)
    with pytest.raises(ValidationError, match="--address"):
        predictor_fit("local", address="head:6379")
    X, y = toy_ctr(50, seed=0)
    with pytest.raises(ValidationError, match="no data-parallel training step"):
        predictor_fit("ray", workers=2)(LogisticRegression(), X, y)  # refused before Ray starts
    cli = CliRunner().invoke(
        app,
        ["train", "predict", "--task", "ctr", "-w", str(tmp_path / "none.duckdb"), "-r", str(tmp_path),
         "--model", "deepfm", "--workers", "2"],
    )
    assert cli.exit_code != 0 and "needs --engine ray" in cli.output
