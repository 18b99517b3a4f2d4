"""`shopml search` and the workspace engine cache."""

import pandas as pd
import pytest
from typer.testing import CliRunner

from shopml.cli import app
from shopml.core.errors import DataError
from shopml.data.workspace import Workspace
from shopml.registry import Registry
from shopml.search.store import cache_root, workspace_engine

runner = CliRunner(env={"COLUMNS": "250"})


@pytest.fixture()
def ws_path(tmp_path, catalogue):
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        ws.append("items", catalogue)
    return path


def test_engine_is_cached_and_refitted_when_items_change(ws_path, catalogue):
    engine, cached = workspace_engine(ws_path)
    assert not cached and engine.dense_ is None
    again, cached = workspace_engine(ws_path)
    assert cached
    a, b = engine.search("cordless drill", k=3), again.search("cordless drill", k=3)
    assert a["item_id"].tolist() == b["item_id"].tolist()
    with Workspace(ws_path) as ws:
        ws.append("items", pd.DataFrame({"item_id": ["new1"], "title": ["Cordless Drill Combo Kit"]}))
    fresh, cached = workspace_engine(ws_path)
    assert not cached and "new1" in fresh.item_index_
    # one cache, the registry: the engines are versions of search/engine, the newest latest
    reg = Registry(cache_root(ws_path))
    assert [v.version for v in reg.versions("search", "engine")] == ["v0001", "v0002"]
    # a shared registry (the one the service serves) works the same way
    other = ws_path.parent / "artifacts"
    _, cached = workspace_engine(ws_path, registry=other)
    assert not cached and Registry(other).latest("search", "engine").config["items"] == len(fresh.items_)
    assert workspace_engine(ws_path, registry=other)[1]


def test_missing_workspace(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        workspace_engine(tmp_path / "nope.duckdb")


def test_cli_prints_results_with_features(ws_path, monkeypatch):
    # the CLI's console is created once per process: pin its width so titles are not cut short
    # whatever width an earlier test in this worker left it with
    from shopml.cli.app import console

    monkeypatch.setattr(console, "_width", 250)
    r = runner.invoke(app, ["search", "cordles drill", "-w", str(ws_path), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert "DEWALT 20-Volt Max Cordless Drill" in r.output
    assert "searched as 'cordless drill'" in r.output
    assert "bm25" in r.output and "overlap_frac" in r.output
    r = runner.invoke(app, ["search", "drill", "-w", str(ws_path), "--k", "0"])
    assert r.exit_code == 2 and "--k" in r.output
    r = runner.invoke(app, ["search", "drill", "-w", str(ws_path), "--method", "rerank"])
    assert r.exit_code == 2 and "fit_ranker" in r.output


def test_rerank_learns_from_the_workspace_judgements(ws_path):
    with pytest.raises(DataError, match="relevance_judgements"):
        workspace_engine(ws_path, rerank=True)
    j = pd.DataFrame(
        {
            "judgement_id": [f"j{i}" for i in range(5)],
            "query": ["drill"] * 3 + ["hammer"] * 2,
            "item_id": ["i0", "i1", "i11", "i2", "i1"],
            "relevance": [3.0, 2.5, 2.0, 3.0, 2.0],
        }
    )
    with Workspace(ws_path) as ws:
        ws.append("relevance_judgements", j)
    engine, cached = workspace_engine(ws_path, rerank=True)
    assert not cached and engine.default_method() == "rerank"
    again, cached = workspace_engine(ws_path, rerank=True)
    assert cached and again.reranker_ is not None
    assert len(again.search("drill", k=3)) == 3
