"""`shopml train recommend`, `shopml recommend` and `shopml serve` end to end."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

import httpx
from typer.testing import CliRunner

from shopml.cli import app
from shopml.registry import Registry
from shopml.serve.workspace_io import open_workspace
from tests.serve.conftest import KEY

runner = CliRunner()


def test_train_then_recommend(shop_template, tmp_path):
    ws = str(shop_template[0])
    reg = tmp_path / "reg"
    r = runner.invoke(
        app,
        [
            "train",
            "recommend",
            "--model",
            "itemknn",
            "-w",
            ws,
            "--registry",
            str(reg),
            "--params",
            "k_neighbours=20,shrinkage=1.5",
        ],
    )
    assert r.exit_code == 0, r.output
    assert "registered recommend/itemknn v0001" in r.output
    mv = Registry(reg).latest("recommend", "itemknn")
    assert mv.meta["config"]["params"] == {"k_neighbours": 20, "shrinkage": 1.5}
    assert mv.meta["config"]["source"] == "events" and mv.meta["config"]["data_until"].startswith(
        "2024-01-30"
    )
    r = runner.invoke(app, ["recommend", "u0000010", "-w", ws, "--registry", str(reg), "--k", "3"])
    assert r.exit_code == 0, r.output
    assert "itemknn v0001" in r.output and "because of" in r.output
    r = runner.invoke(app, ["recommend", "ghost", "-w", ws, "--registry", str(reg), "--k", "2"])
    assert r.exit_code == 0 and "unknown user" in r.output
    r = runner.invoke(
        app, ["train", "recommend", "--model", "nope", "-w", ws, "--registry", str(reg)]
    )
    assert r.exit_code == 2 and "unknown recommender 'nope'" in r.output
    r = runner.invoke(
        app,
        [
            "train",
            "recommend",
            "--model",
            "ease",
            "-w",
            ws,
            "--registry",
            str(reg),
            "--params",
            "l2",
        ],
    )
    assert r.exit_code == 2 and "not key=value" in r.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_serve_with_two_workers_keeps_every_acknowledged_event(shop):
    ws, reg = shop
    port = _free_port()
    env = {**os.environ, "SHOPML_API_KEY": KEY}
    cmd = [
        sys.executable,
        "-m",
        "shopml.cli",
        "serve",
        "-w",
        str(ws),
        "--registry",
        str(reg),
        "--port",
        str(port),
        "--workers",
        "2",
    ]
    proc = subprocess.Popen(
        cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    base = f"http://127.0.0.1:{port}"
    ids = []
    try:
        with httpx.Client(base_url=base, timeout=10) as c:
            # generous: two workers import torch and load models, slow on a loaded 2-core box
            deadline = time.monotonic() + 240
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if c.get("/readyz").status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                time.sleep(0.2)
            assert c.get("/readyz").status_code == 200
            for i in range(40):
                r = c.post(
                    "/v1/feedback",
                    headers={"X-API-Key": KEY},
                    json={
                        "events": [
                            {
                                "event_id": f"cli-{i}",
                                "event_type": "view",
                                "user_id": "u0000001",
                                "item_id": "i000002",
                            }
                        ]
                    },
                )
                assert r.status_code == 202
                ids.append(f"cli-{i}")
            assert c.get("/v1/recommendations/u0000001", params={"k": 3}).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGTERM)  # graceful: each worker takes in what it holds
        out = proc.communicate(timeout=60)[0].decode()
    assert proc.returncode == 0, out[-2000:]
    with open_workspace(ws) as w:
        got = w.sql(
            "SELECT event_id, count(*) AS n FROM events WHERE event_id LIKE 'cli-%' GROUP BY 1"
        )
    assert sorted(got["event_id"]) == sorted(ids) and (got["n"] == 1).all()
