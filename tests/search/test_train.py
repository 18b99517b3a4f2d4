"""The search capability's train and load: the registered engine is served as saved."""

import threading

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.data.workspace import Workspace
from shopml.registry import Registry
from shopml.search.train import load_for_serving, train_and_register
from tests.search.test_engine import _judgements


@pytest.fixture()
def shop(tmp_path, catalogue):
    path = tmp_path / "shop.duckdb"
    j = _judgements(catalogue)
    j.insert(0, "judgement_id", [f"j{i}" for i in range(len(j))])
    with Workspace(path) as ws:
        ws.append("items", catalogue)
        ws.append("relevance_judgements", j)
    return path, Registry(tmp_path / "registry")


def test_train_register_and_load_serves_the_reranker(shop):
    path, reg = shop
    params = {"ranker_params": {"n_estimators": 20, "min_child_samples": 5}, "depth": 12}
    version = train_and_register(path, reg, "engine", **params)
    assert version.capability == "search" and version.config["method"] == "rerank"
    reg.verify(version)
    engine = load_for_serving(version, None)
    assert engine.reranker_ is not None and engine.default_method() == "rerank"
    res = engine.search("cordles dril", k=3)
    assert res.attrs["corrected_query"] == "cordless drill" and res.attrs["corrected"]
    assert res["item_id"].iloc[0] == "i0"
    # lexical only without judgements
    plain = load_for_serving(train_and_register(path, reg, rerank=False, name="plain"), None)
    assert plain.reranker_ is None and plain.default_method() == "bm25"
    with pytest.raises(ValidationError, match="no search model"):
        train_and_register(path, reg, "magic")


def test_search_is_stateless_under_concurrent_calls(shop):
    """Each call's corrected query is its own (the old engine shared it through an attribute)."""
    path, reg = shop
    engine = load_for_serving(train_and_register(path, reg, rerank=False), None)
    queries = {"cordles dril": "cordless drill", "hamer": "hammer", "garden hose": "garden hose"}
    wrong: list[str] = []

    def worker(q: str) -> None:
        for _ in range(15):
            got = engine.search(q, k=2).attrs["corrected_query"]
            if got != queries[q]:
                wrong.append(f"{q!r} -> {got!r}")

    threads = [threading.Thread(target=worker, args=(q,)) for q in queries for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong
    batch = engine.search_batch(list(queries), k=2)
    assert batch.attrs["corrected_queries"] == list(queries.values())
    assert np.array_equal(np.unique(batch["query_idx"]), np.arange(3))
    assert isinstance(batch, pd.DataFrame)
