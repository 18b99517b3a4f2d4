"""``kill -9`` of a serving process loses no acknowledged decision."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import httpx
import pytest

from shopml.bandits.train import train
from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.registry import Registry


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_acknowledged_decisions_survive_kill_9(tmp_path):
    ws, reg = tmp_path / "shop.duckdb", tmp_path / "registry"
    with Workspace(ws) as w:
        simulate(SimConfig(n_users=300, n_items=60, n_categories=3, days=20, seed=1)).write(w)
    train(ws, Registry(reg), "epsilon_greedy", evaluate=False)
    port = _free_port()
    cmd = [sys.executable, "-m", "shopml.cli", "serve", "-w", str(ws), "--registry", str(reg),
           "--port", str(port)]  # fmt: skip
    log = (tmp_path / "server.log").open("wb")
    proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    acked = []
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if httpx.get(base + "/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        else:
            pytest.fail((tmp_path / "server.log").read_text()[-2000:])
        with httpx.Client(base_url=base, timeout=10) as c:
            for i in range(40):
                r = c.post("/v1/decide", json={"context": {"hour": i % 24}, "n": 1})
                assert r.status_code == 200, r.text
                acked.append(r.json()["decision_id"])
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # no shutdown hook runs
        proc.wait(timeout=30)
        log.close()
    folder = ws.with_name(ws.name + ".serve") / "decisions"
    logged = {
        json.loads(line)["decision_id"]
        for p in folder.glob("*.jsonl")
        for line in p.read_bytes().splitlines()
        if line.strip()
    }
    assert set(acked) <= logged
