"""`shopml forecast`, `shopml replenish` and `shopml train forecast` on a tiny workspace."""

from __future__ import annotations

import pandas as pd
from typer.testing import CliRunner

from shopml.cli import app
from tests.forecast.shop import tiny_workspace

runner = CliRunner()
SMALL = "n_estimators=20,num_leaves=8,min_child_samples=5"


def test_forecast_replenish_and_train(tmp_path):
    ws = tiny_workspace(tmp_path / "ws.duckdb")
    out = tmp_path / "f.parquet"
    r = runner.invoke(
        app, ["forecast", "-w", ws, "--h", "3", "--freq", "W", "--out", str(out), "--params", SMALL]
    )
    assert r.exit_code == 0, r.output
    fc = pd.read_parquet(out)
    assert len(fc) == 15 and {"point", "q0.5", "lo-80", "hi-95"} <= set(fc.columns)
    orders = tmp_path / "orders.csv"
    r = runner.invoke(app, ["replenish", "-w", ws, "--lead-time", "1", "--out", str(orders)])
    assert r.exit_code == 0, r.output
    plan = pd.read_csv(orders)
    assert len(plan) == 5 and (plan["order_qty"] >= 0).all()
    r = runner.invoke(
        app,
        [
            "train",
            "forecast",
            "-m",
            "lightgbm",
            "-w",
            ws,
            "-r",
            str(tmp_path / "reg"),
            "--h",
            "4",
            "--params",
            SMALL,
        ],
    )
    assert r.exit_code == 0, r.output
    assert (tmp_path / "reg" / "forecast" / "lightgbm" / "latest").is_file()
    r = runner.invoke(app, ["forecast", "-w", str(tmp_path / "missing.duckdb")])
    assert r.exit_code == 2 and "does not exist" in r.output
    r = runner.invoke(app, ["forecast", "-w", ws, "--model", "nope"])
    assert r.exit_code == 2 and "no forecasting model" in r.output
