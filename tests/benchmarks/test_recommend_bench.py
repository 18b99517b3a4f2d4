import json

import numpy as np
import pandas as pd
import pytest

from shopml.benchmarks.recommend import run
from shopml.benchmarks.recommend_models import model_specs
from shopml.core.errors import ValidationError
from shopml.data.loaders import get_loader


def _frame(n_users: int = 30, per_user: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for j, i in enumerate(rng.choice(40, size=per_user + u % 5, replace=False)):
            rows.append(
                (
                    f"u{u}",
                    f"i{i}",
                    pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)) + j),
                )
            )
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])


def test_every_grid_fits_the_budget():
    specs = model_specs()
    assert {
        "popularity",
        "itemknn",
        "userknn",
        "tifu-knn",
        "als",
        "ease",
        "implicit-als",
        "implicit-bpr",
    } <= set(specs)
    assert all(1 <= len(s.grid) <= 6 for s in specs.values())
    assert {n for n, s in specs.items() if s.peer} == {"implicit-als", "implicit-bpr"}


@pytest.mark.skipif(
    not get_loader("movielens-100k").found(), reason="MovieLens 100K not in the data directory"
)
def test_quick_movielens_run_writes_results(tmp_path):
    out = tmp_path / "recommend_ml.json"
    result = run(
        "movielens-100k",
        models=["popularity", "ease", "implicit-als"],
        quick=True,
        max_users=150,
        out=out,
    )
    rows = {r.model: r for r in result.rows}
    assert set(rows) == {"popularity", "ease", "implicit-als"} and rows["implicit-als"].peer
    for r in rows.values():
        assert 0 < r.metrics["ndcg@10"] < 1 and 0 < r.metrics["recall@10"] < 1
        low, high = r.extra["ci"]["ndcg@10"]
        assert low <= r.metrics["ndcg@10"] <= high
    # a personalised model beats the popularity floor by a wide margin on MovieLens
    assert rows["ease"].metrics["ndcg@10"] > rows["popularity"].metrics["ndcg@10"] + 0.05
    assert "ndcg@10 vs implicit-als" in rows["ease"].extra["paired"]
    saved = json.loads(out.read_text())
    assert saved["dataset"] == "movielens-100k" and len(saved["rows"]) == 3
    assert out.with_suffix(".md").read_text().startswith("# recommend on movielens-100k")


def test_bad_arguments():
    with pytest.raises(ValidationError, match="exactly one"):
        run()
    with pytest.raises(ValidationError, match="unknown model"):
        run("movielens-100k", models=["nope"])
    with pytest.raises(ValidationError, match="no recommend benchmark"):
        run("cdnow", models=["popularity"])


def test_workspace_run_uses_its_events(tmp_path):
    from shopml.data.workspace import Workspace

    df = _frame(n_users=40, per_user=14, seed=2)
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["event_type"] = "purchase"
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        ws.append("events", df)
    result = run(workspace=path, models=["popularity", "itemknn"], quick=True)
    assert result.dataset == "shop"
    names = [r.model for r in result.rows]
    assert names == [
        "popularity (novel)",
        "itemknn (novel)",
        "popularity (repeat)",
        "itemknn (repeat)",
    ]
    assert any("the workspace's events" in n for n in result.notes)


def test_workspace_run_on_a_simulated_shop(tmp_path):
    """A new shop's workspace (here: the simulator's) is benchmarked without new code."""
    from shopml.data.synth.engine import simulate
    from shopml.data.workspace import Workspace

    path = tmp_path / "simshop.duckdb"
    with Workspace(path) as ws:
        simulate(n_users=400, n_items=80, days=90, seed=3).write(ws)
    result = run(workspace=path, models=["popularity", "ease-decay"], quick=True, n_boot=50)
    rows = {r.model: r for r in result.rows}
    assert set(rows) == {
        f"{m} ({v})" for m in ("popularity", "ease-decay") for v in ("novel", "repeat")
    }
    for r in rows.values():
        assert 0 <= r.metrics["ndcg@10"] <= 1 and r.extra["users"] > 0
    assert result.dataset == "simshop" and any("the workspace's events" in n for n in result.notes)
    assert "temporal" in result.protocol


def test_als_speed_reports_both_clocks():
    from shopml.benchmarks.recommend_speed import als_speed
    from shopml.recommend.interactions import Interactions

    speed = als_speed(Interactions.from_frame(_frame()), factors=8, iterations=2, repeats=1)
    assert {"ratio", "cpu_ratio", "shopml_als_s", "implicit_als_cpu_s"} <= set(speed)
    assert speed["shopml_als_s"] > 0 and speed["implicit_als_s"] > 0
    with pytest.raises(ValidationError, match="unknown recommend task"):
        run("online-retail", task="als-speed")
