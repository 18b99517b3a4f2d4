"""`shopml bandit simulate`, `shopml ope` and `shopml bench bandits` from the command line."""

import json

import numpy as np
import pandas as pd
from typer.testing import CliRunner

from shopml.cli import app

runner = CliRunner()


def test_bandit_simulate_prints_regret():
    r = runner.invoke(
        app, ["bandit", "simulate", "--policy", "linucb", "--rounds", "600", "--arms", "5"]
    )
    assert r.exit_code == 0, r.output
    assert "cumulative regret" in " ".join(r.output.split())
    bad = runner.invoke(app, ["bandit", "simulate", "--policy", "nope", "--rounds", "100"])
    assert bad.exit_code != 0 and "unknown policy" in bad.output


def test_ope_on_a_logs_file(tmp_path):
    rng = np.random.default_rng(0)
    n = 800
    a = rng.integers(0, 3, n)
    pd.DataFrame(
        {
            "action": a,
            "reward": (rng.random(n) < 0.1 + 0.2 * (a == 2)).astype(int),
            "propensity": 1 / 3,
            "x": rng.normal(size=n),
        }
    ).to_csv(tmp_path / "l.csv", index=False)
    out = tmp_path / "est.json"
    r = runner.invoke(
        app,
        [
            "ope",
            "--logs",
            str(tmp_path / "l.csv"),
            "--policy",
            "uniform",
            "--bootstrap",
            "20",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    est = {e["estimator"]: e for e in json.loads(out.read_text())["estimates"]}
    assert set(est) == {"dm", "ips", "snips", "dr", "sndr", "switch_dr", "dros"}
    assert est["ips"]["lower"] <= est["ips"]["value"] <= est["ips"]["upper"]
    r = runner.invoke(app, ["ope", "--policy", "uniform"])
    assert r.exit_code != 0


def test_bench_pacing_quick(tmp_path):
    out = tmp_path / "pacing.json"
    r = runner.invoke(
        app,
        [
            "bench",
            "bandits",
            "--dataset",
            "simulator",
            "--task",
            "pacing",
            "--quick",
            "--out",
            str(out),
        ],
    )
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())["rows"][0]
    assert row["model"] == "lp_pacer"
    assert abs(row["metrics"]["spend_over_budget"] - 1) < 0.05
    assert 0 < row["metrics"]["clicks_vs_optimum"] <= 1.0 + 1e-9
