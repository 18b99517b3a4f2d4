"""Hyper-parameter search: declared spaces, the local engine, and Ray Tune behind the CLI."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from typer.testing import CliRunner

from shopml.cli import app
from shopml.core.errors import ShopMLError
from shopml.core.space import Choice, IntRange, LogUniform, Uniform, model_search_space
from shopml.distributed.tune import search, to_tune, tune_recommender
from shopml.recommend.train import MODELS, load_interactions, model_class
from shopml.registry import Registry
from tests.recommend.contract import toy_interactions

SEARCHABLE = ("als", "ease", "itemknn", "userknn", "bpr", "sasrec")


@pytest.mark.parametrize("name", sorted(MODELS))
def test_declared_space_names_constructor_parameters(name):
    klass = model_class(name)
    if name not in SEARCHABLE and getattr(klass, "search_space", None) is None:
        pytest.skip(f"{name} declares no search space")
    space = model_search_space(klass)
    params = set(inspect.signature(klass.__init__).parameters) - {"self"}
    assert set(space) <= params
    for config in (dict(zip(space, (d.sample(np.random.default_rng(s)) for d in space.values()), strict=True)) for s in range(3)):
        klass(**config)  # every sampled configuration constructs the model


def test_to_tune_keeps_the_declared_ranges():
    pytest.importorskip("ray", reason="ray is not installed")
    space = {"a": Uniform(0.0, 1.0), "b": LogUniform(1e-3, 1.0), "c": IntRange(2, 9), "d": IntRange(1, 64, log=True), "e": Choice(("x", "y"))}
    tuned = to_tune(space)
    assert (tuned["a"].lower, tuned["a"].upper) == (0.0, 1.0)
    assert (tuned["b"].lower, tuned["b"].upper) == (1e-3, 1.0)
    assert (tuned["c"].lower, tuned["c"].upper) == (2, 10)  # Tune's upper bound is exclusive
    assert (tuned["d"].lower, tuned["d"].upper) == (1, 65)
    assert tuned["e"].categories == ["x", "y"]


def test_local_search_returns_the_best_trial():
    df, items = toy_interactions(n_users=80)
    result = tune_recommender("ease", df, items, num_samples=5, seed=3)
    assert len(result.trials) == 5 and result.metric == "ndcg@10"
    scores = [t["score"] for t in result.trials]
    assert result.best_score == max(scores) and 0 < result.best_score <= 1
    assert result.best_params == result.trials[int(np.argmax(scores))]["params"]
    assert all(10.0 <= t["params"]["l2"] <= 5000.0 for t in result.trials)
    again = tune_recommender("ease", df, items, num_samples=5, seed=3)
    assert again.best_params == result.best_params and again.best_score == result.best_score
    # fixed parameters are passed through, not searched
    fixed = tune_recommender("itemknn", df, items, num_samples=2, fixed={"shrinkage": 0.0})
    assert all(t["params"]["shrinkage"] == 0.0 for t in fixed.trials)


def test_failed_trials_are_skipped_and_all_failed_raises():
    def objective(params):
        if params["x"] < 0.5:
            raise ShopMLError("diverged")
        return -abs(params["x"] - 0.8)

    result = search(objective, {"x": Uniform(0.0, 1.0)}, num_samples=12, seed=0)
    assert result.best_params["x"] >= 0.5
    assert any(t["error"] for t in result.trials)
    def always_fails(params):
        raise ShopMLError("singular")

    with pytest.raises(ShopMLError, match="every one of 3 trials failed.*singular"):
        search(always_fails, {"x": Uniform(0, 1)}, num_samples=3)


def test_model_without_space_is_refused():
    df, items = toy_interactions()
    with pytest.raises(ShopMLError, match="declares no search space"):
        tune_recommender("popularity", df, items, num_samples=2)


def test_train_recommend_on_ray_registers_the_best(shop, tmp_path, ray_local):
    """`shopml train recommend --engine ray` runs Ray Tune, then registers its best, which is
    the local engine's best on the same configurations."""
    ws, reg = shop
    registry = tmp_path / "registry"
    result = CliRunner().invoke(
        app,
        ["train", "recommend", "-m", "ease", "-w", str(ws), "-r", str(registry), "--engine", "ray",
         "--trials", "3", "--ray-storage", str(tmp_path / "ray")],
    )
    assert result.exit_code == 0, result.output
    mv = Registry(registry).latest("recommend", "ease")
    tune_meta = mv.meta["config"]["tune"]
    assert mv.meta["config"]["engine"] == "ray" and tune_meta["engine"] == "ray"
    assert len(tune_meta["trials"]) == 3 and all(t["error"] is None for t in tune_meta["trials"])
    from shopml.data import Workspace

    with Workspace(ws, read_only=True) as w:
        frame, _ = load_interactions(w)
        items = w.df("items", columns=["item_id", "title", "category", "brand", "price"])
    local = tune_recommender("ease", frame, items, num_samples=3, seed=0)
    assert mv.meta["config"]["params"]["l2"] == pytest.approx(local.best_params["l2"], rel=1e-12)
    assert mv.meta["metrics"]["val_ndcg@10"] == pytest.approx(local.best_score, abs=1e-6)
    assert [t["score"] for t in tune_meta["trials"]] == pytest.approx([round(t["score"], 6) for t in local.trials], abs=1e-6)


def test_train_recommend_refuses_impossible_engine_options(shop, tmp_path):
    ws, _ = shop
    base = ["train", "recommend", "-w", str(ws), "-r", str(tmp_path / "registry")]
    cases = {
        ("-m", "sasrec", "--workers", "2"): "needs --engine ray",
        ("-m", "ease", "--engine", "ray", "--workers", "2"): "no data-parallel training step",
        ("-m", "ease", "--address", "auto"): "needs --engine ray",
        ("-m", "popularity", "--trials", "2"): "declares no search space",
    }
    for extra, message in cases.items():
        result = CliRunner().invoke(app, [*base, *extra])
        assert result.exit_code == 2 and message in result.output, (extra, result.output)
    assert not (tmp_path / "registry").exists()
