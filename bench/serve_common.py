"""Shared by the service harnesses: a simulated shop with registered models, and a real server
(``shopml serve`` in its own process group on 127.0.0.1) that can be stopped or killed."""

from __future__ import annotations

import os
import platform
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate
from shopml.predict import BGNBD, GammaGamma, rfm_summary
from shopml.recommend.train import train_and_register
from shopml.registry import Registry
from shopml.serve.artifacts import register_clv

API_KEY = "bench-api-key-0123456789"
HOST = "127.0.0.1"  # loopback only


def machine() -> str:
    """CPU count and load: a busy shared machine inflates every latency."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}"
    )


def build_shop(
    root: Path, config: SimConfig, recommender: str = "ease", params: dict | None = None
) -> tuple[Path, Path]:
    """Simulate ``config`` into ``root/shop.duckdb``; register a recommender and a CLV model."""
    root.mkdir(parents=True, exist_ok=True)
    ws, reg = root / "shop.duckdb", root / "registry"
    with Workspace(ws) as w:
        simulate(config).write(w)
        orders = w.sql(
            "SELECT user_id, ts, quantity * unit_price AS value FROM orders "
            "WHERE status = 'completed' AND user_id IS NOT NULL"
        )
    train_and_register(ws, reg, recommender, params or {})
    summary = rfm_summary(orders, orders["ts"].max(), value_col="value")
    bg = BGNBD().fit(summary["frequency"], summary["recency"], summary["T"])
    gg = GammaGamma().fit(summary["frequency"], summary["monetary_value"])
    register_clv(Registry(reg), bg, gg, freq="D", horizon=90.0)
    return ws, reg


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


class Server:
    """``shopml serve`` in a new session (so the whole process group can be signalled)."""

    def __init__(
        self,
        ws: Path,
        reg: Path,
        workers: int = 1,
        log_path: Path | None = None,
        port: int | None = None,
    ) -> None:
        self.ws, self.reg, self.workers = ws, reg, workers
        self.port = port or free_port()
        self.base = f"http://{HOST}:{self.port}"
        self.log_path = log_path or ws.with_name(f"server-{self.port}.log")
        self.proc: subprocess.Popen | None = None

    def start(self, timeout_s: float = 120.0) -> float:
        """Start and wait for /readyz; returns the seconds it took."""
        env = {**os.environ, "SHOPML_API_KEY": API_KEY, "SHOPML_PROGRESS": "0"}
        cmd = [
            sys.executable, "-m", "shopml.cli", "serve", "-w", str(self.ws), "--registry", str(self.reg),
            "--host", HOST, "--port", str(self.port), "--workers", str(self.workers),
        ]  # fmt: skip
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in stop/kill
        t0 = time.perf_counter()
        self.proc = subprocess.Popen(
            cmd, env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout_s
        with httpx.Client(timeout=2.0) as c:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(
                        f"server exited with {self.proc.returncode}; see {self.log_path}"
                    )
                try:
                    if c.get(self.base + "/readyz").status_code == 200:
                        return time.perf_counter() - t0
                except httpx.TransportError:
                    pass
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"server not ready after {timeout_s} s; see {self.log_path}")

    def pids(self) -> list[int]:
        """The server's processes (the parent and its workers: one process group)."""
        if self.proc is None:
            return []
        out = subprocess.run(["pgrep", "-g", str(self.proc.pid)], capture_output=True, text=True)
        return [int(p) for p in out.stdout.split()]

    def kill(self) -> None:
        """kill -9 every process of the server at once (no shutdown code runs)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)
        self._close()

    def stop(self, timeout_s: float = 60.0) -> int:
        """Graceful stop (SIGTERM to the group); returns the exit code."""
        if self.proc is None:
            return 0
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)
        self._close()
        return self.proc.returncode

    def _close(self) -> None:
        log = getattr(self, "_log", None)
        if log is not None and not log.closed:
            log.close()

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values), q))
