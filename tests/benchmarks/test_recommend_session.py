import numpy as np
import pandas as pd
import pytest

from shopml.benchmarks.recommend import run
from shopml.benchmarks.recommend_session import (
    bench_sessions,
    make_session_split,
    session_specs,
    session_splits,
)
from shopml.core.errors import ValidationError
from shopml.data.loaders import get_loader


def _views(rows):
    """rows: (session, [items], day) -> session_id, item_id, ts (a minute between views)."""
    out = []
    for s, items, day in rows:
        for j, i in enumerate(items):
            out.append((s, i, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day, minutes=j)))
    return pd.DataFrame(out, columns=["session_id", "item_id", "ts"])


def test_last_view_is_the_target_and_unknown_items_are_dropped():
    df = _views(
        [
            ("a", ["x", "y", "z"], 0),
            ("b", ["y", "z"], 1),
            ("t1", ["x", "new", "y", "z"], 10),  # "new" never seen in training: dropped
            ("t2", ["z", "new"], 10),  # one known view left: too short
            ("t3", ["y", "x"], 11),
        ]
    )
    split = make_session_split("t", df, test_days=3)
    items = split.train.items
    assert split.train.n_users == 2 and split.stats["test_sessions"] == 2
    assert split.stats["test_views_of_unknown_items_dropped"] == 2
    assert split.stats["test_sessions_too_short"] == 1
    assert [items.decode(h).tolist() for h in split.histories] == [["x", "y"], ["y"]]
    targets = items.decode(split.relevant.indices).tolist()
    assert targets == ["z", "x"] and split.relevant.shape == (2, split.train.n_items)


def test_validation_lies_before_the_test_period():
    rng = np.random.default_rng(0)
    rows = [(f"s{s}", [f"i{i}" for i in rng.integers(0, 15, 4)], s // 3) for s in range(90)]
    val, test = session_splits(_views(rows), test_days=7)
    assert val.train.n_users < test.train.n_users
    assert val.stats["test_sessions"] > 0 and test.stats["test_sessions"] > 0


def test_bench_sessions_scores_and_pairs():
    rng = np.random.default_rng(1)
    # two tastes: sessions walk within one half of the catalogue
    rows = [
        (f"s{s}", [f"i{2 * i + s % 2}" for i in rng.integers(0, 10, 5)], s // 4) for s in range(160)
    ]
    val, test = session_splits(_views(rows), test_days=7)
    specs = [s for s in session_specs() if s.name in ("popularity", "v-sknn")]
    rows_out = bench_sessions(specs, val, test, tune_params=False, n_boot=100)
    got = {r.model: r.metrics for r in rows_out}
    assert got["v-sknn"]["hit_rate@20"] >= got["popularity"]["hit_rate@20"]
    assert 0 < got["v-sknn"]["mrr@20"] <= got["v-sknn"]["hit_rate@20"] <= 1
    best = next(r for r in rows_out if "paired" in r.extra)
    assert any(k.startswith("hit_rate@20 vs") for k in best.extra["paired"])


def test_every_session_grid_fits_the_budget():
    specs = session_specs()
    assert {"popularity", "sknn", "v-sknn", "sasrec"} <= {s.name for s in specs}
    assert all(1 <= len(s.grid) <= 6 for s in specs)
    with pytest.raises(ValidationError, match="unknown session model"):
        run("diginetica", models=["implicit-als"])


@pytest.mark.skipif(
    not get_loader("diginetica").found(), reason="DIGINETICA sample not in the data directory"
)
def test_quick_diginetica_run(tmp_path):
    out = tmp_path / "dg.json"
    result = run("diginetica", models=["popularity", "sknn"], quick=True, n_boot=100, out=out)
    got = {r.model: r.metrics for r in result.rows}
    # session neighbours far above the popularity floor on real sessions
    assert got["sknn"]["hit_rate@20"] > got["popularity"]["hit_rate@20"] + 0.2
    assert out.exists() and out.with_suffix(".md").exists()


# ------------------------------------------------------------------ the protocol on any workspace
def _session_workspace(path, users: bool = False):
    """A click log of anonymous sessions (two tastes), as `shopml ingest generic` would store it."""
    from shopml.data import Workspace

    rng = np.random.default_rng(2)
    rows = [
        (f"s{s}", [f"i{2 * i + s % 2}" for i in rng.integers(0, 12, 5)], s // 8) for s in range(320)
    ]
    views = _views(rows).assign(event_type="view")
    if users:
        views["user_id"] = "u" + (views.index % 25).astype(str)
    with Workspace(path) as ws:
        ws.append("events", views)
    return path


def test_sessions_without_users_choose_the_session_protocol(tmp_path):
    from shopml.benchmarks.recommend_session import (
        choose_protocol,
        run_workspace,
        workspace_test_days,
        workspace_views,
    )
    from shopml.data import Workspace

    path = _session_workspace(tmp_path / "clicks.duckdb")
    with Workspace(path, read_only=True) as ws:
        protocol, why = choose_protocol(ws)
        views = workspace_views(ws)
    assert protocol == "session" and "anonymous sessions" in why
    assert workspace_test_days(views) == 7.0  # 40 days of history: the last week
    result = run_workspace(path, models=["popularity", "sknn"], quick=True, n_boot=50,
                           out=tmp_path / "r.json")
    assert result.protocol.startswith("session-based next item")
    assert result.notes[0].startswith("protocol: session (the events are anonymous sessions")
    got = {r.model: r.metrics for r in result.rows}
    assert set(got) == {"popularity", "sknn"}
    # the sessions hold one taste each: session neighbours beat the popularity floor
    assert got["sknn"]["hit_rate@20"] > got["popularity"]["hit_rate@20"]
    assert (tmp_path / "r.json").exists() and (tmp_path / "r.md").exists()


def test_users_choose_temporal_and_session_needs_sessions(tmp_path):
    from shopml.benchmarks.recommend_session import choose_protocol, run_workspace
    from shopml.core.errors import DataError
    from shopml.data import Workspace

    path = _session_workspace(tmp_path / "users.duckdb", users=True)
    with Workspace(path, read_only=True) as ws:
        assert choose_protocol(ws)[0] == "temporal"
    with pytest.raises(ValidationError, match="unknown protocol"):
        run_workspace(path, protocol="leave-one-out")
    empty = tmp_path / "empty.duckdb"
    Workspace(empty).close()
    with pytest.raises(DataError, match="no item events with session ids"):
        run_workspace(empty, protocol="session")


def test_cli_bench_session_protocol(tmp_path):
    import json

    from typer.testing import CliRunner

    from shopml.cli import app

    path = _session_workspace(tmp_path / "clicks.duckdb")
    out = tmp_path / "bench.json"
    runner = CliRunner()
    args = ["bench", "recommend", "--workspace", str(path), "--quick", "--models",
            "popularity,sknn", "--out", str(out)]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "protocol: session" in r.output
    body = json.loads(out.read_text())
    assert body["protocol"].startswith("session-based next item")
    assert {row["model"] for row in body["rows"]} == {"popularity", "sknn"}
    r = runner.invoke(app, [*args, "--protocol", "weekly"])
    assert r.exit_code == 2 and "unknown protocol 'weekly'" in r.output
    r = runner.invoke(app, ["bench", "recommend", "--dataset", "movielens-100k", "--protocol",
                            "session"])
    assert r.exit_code == 2
