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


@pytest.mark.skipif(not get_loader("diginetica").found(), reason="DIGINETICA sample not in the data directory")
def test_quick_diginetica_run(tmp_path):
    out = tmp_path / "dg.json"
    result = run("diginetica", models=["popularity", "sknn"], quick=True, n_boot=100, out=out)
    got = {r.model: r.metrics for r in result.rows}
    # session neighbours far above the popularity floor on real sessions
    assert got["sknn"]["hit_rate@20"] > got["popularity"]["hit_rate@20"] + 0.2
    assert out.exists() and out.with_suffix(".md").exists()
