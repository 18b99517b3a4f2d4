"""`shopml bench --engine ray`: the suite runs as a Ray task and gives the local engine's numbers."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from shopml.benchmarks.engine import run_suite
from shopml.cli import app
from shopml.core.errors import ValidationError
from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A tiny shop with the 90 days of history the recommend suite's temporal split needs."""
    path = tmp_path_factory.mktemp("bench") / "shop.duckdb"
    with Workspace(path) as ws:
        simulate(SimConfig(n_users=300, n_items=60, days=90, seed=1, session_rate=0.3)).write(ws)
    return path


def comparable(result: dict) -> list[dict]:
    """The rows without their wall-clock timings (which depend on the machine and its load)."""
    return [{k: v for k, v in r.items() if not k.endswith("_seconds")} for r in result["rows"]]


def test_ray_engine_gives_the_local_results(tmp_path, history, ray_local):
    ws_path = history
    local = run_suite("recommend", workspace=ws_path, models=["popularity"], quick=True)
    out = tmp_path / "ray.json"
    cli = CliRunner().invoke(
        app,
        ["bench", "recommend", "--workspace", str(ws_path), "--models", "popularity", "--quick",
         "--engine", "ray", "--out", str(out)],
    )
    assert cli.exit_code == 0, cli.output
    on_ray = json.loads(out.read_text())
    assert [r["model"] for r in on_ray["rows"]] == ["popularity (novel)", "popularity (repeat)"]
    assert comparable(on_ray) == comparable(local.as_dict())
    assert on_ray["rows"][0]["metrics"]["ndcg@10"] > 0


def test_the_suites_errors_come_back_from_ray(history, ray_local):
    with pytest.raises(ValidationError, match="nope"):
        run_suite("recommend", "ray", workspace=history, models=["nope"], quick=True)
    with pytest.raises(ValidationError, match="engine"):
        run_suite("recommend", "spark", workspace=history)
