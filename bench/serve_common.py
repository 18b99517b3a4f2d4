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
from shopml.predict.clv import train_and_register as clv_train
from shopml.recommend.train import train_and_register
from shopml.registry import Registry

API_KEY = "bench-api-key-0123456789"
HOST = "127.0.0.1"  # loopback only


def commit() -> str:
    """The checked-out commit, ``+dirty`` when the working tree has changes."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain"], capture_output=True, text=True)
        return sha + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def machine() -> str:
    """CPU count and load: a busy shared machine inflates every latency."""
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f}, python {platform.python_version()}"
    )


def build_shop(
    root: Path,
    config: SimConfig,
    recommender: str = "ease",
    params: dict | None = None,
    search: str | None = None,
) -> tuple[Path, Path]:
    """Simulate ``config`` into ``root/shop.duckdb``; register a recommender and a CLV model,
    and with ``search`` a search engine: ``"bm25"`` (lexical only) or ``"hybrid"`` (BM25F +
    MiniLM, fusion and the LambdaMART re-ranker learned from the shop's search sessions)."""
    root.mkdir(parents=True, exist_ok=True)
    ws, reg = root / "shop.duckdb", root / "registry"
    with Workspace(ws) as w:
        simulate(config).write(w)
    train_and_register(ws, reg, recommender, params or {})
    clv_train(ws, reg, "btyd", horizon_days=90.0)
    if search is not None:
        register_search(ws, reg, hybrid=search == "hybrid", cache_dir=root / "embeddings")
    return ws, reg


def register_search(ws: Path, reg: Path, hybrid: bool, cache_dir: Path | None = None) -> None:
    """Register ``search/engine``: BM25F only, or hybrid (MiniLM + fusion + re-ranker) with
    judgements from the shop's search sessions (a session's query judges the items it viewed)."""
    from shopml.pipeline.search import SESSION_JUDGEMENTS_SQL
    from shopml.search.engine import SearchEngine
    from shopml.search.train import ENGINE_DIR

    with Workspace(ws, read_only=True) as w:
        items = w.df("items")
        events = w.df("events", columns=["item_id", "event_type"])
        judged = w.sql(SESSION_JUDGEMENTS_SQL) if hybrid else None
    engine = SearchEngine(
        encoder="minilm" if hybrid else None,
        cache_dir=None if cache_dir is None else str(cache_dir),
        relevance_floor=0.0,  # session judgements are binary: 1 = viewed after the query
    ).fit(items, judgements=judged, events=events)
    Registry(reg).register(
        "search",
        "engine",
        lambda d: engine.save(d / ENGINE_DIR),
        config={"method": engine.default_method(), "encoder": "minilm" if hybrid else None},
    )


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


#: the endpoints the load harnesses drive, by name
ROUTES = {
    "healthz": "/healthz",
    "recommend": "/v1/recommendations/{user_id}",
    "search": "/v1/search",
    "predict_clv": "/v1/predict/clv",
}


def workload(ws: Path, reg: Path, name: str, n: int = 5000, seed: int = 0) -> list[str]:
    """``n`` request targets (path and query string) for endpoint ``name``, drawn from the shop:
    users the served recommender knows, customers with completed orders (CLV) and queries of
    one to three consecutive words of a random item title, a tenth of them with two letters
    swapped (a typo for the spelling corrector)."""
    import numpy as np
    from loadclient import target_path

    rng = np.random.default_rng(seed)
    if name == "healthz":
        return ["/healthz"]
    if name == "recommend":
        version = Registry(reg).latest("recommend", "ease")
        with np.load(Path(version.path) / "arrays.npz", allow_pickle=False) as arrays:
            key = "base.users" if "base.users" in arrays.files else "users"
            users = arrays[key]
        return [
            target_path(f"/v1/recommendations/{u}", {"k": 10}) for u in rng.choice(users, n)
        ]
    with Workspace(ws, read_only=True) as w:
        if name == "predict_clv":
            ids = w.sql(
                "SELECT DISTINCT user_id FROM orders WHERE status = 'completed' "
                "AND user_id IS NOT NULL ORDER BY 1"
            )["user_id"].astype(str).to_numpy()
            return [target_path("/v1/predict/clv", {"user_id": u}) for u in rng.choice(ids, n)]
        titles = w.df("items", columns=["title"])["title"].dropna().astype(str).to_numpy()
    out = []
    for t in rng.choice(titles, n):
        words = t.lower().split()
        size = int(rng.integers(1, 4))
        start = int(rng.integers(0, max(1, len(words) - size + 1)))
        q = " ".join(words[start : start + size])
        if rng.random() < 0.1 and len(q) > 3:
            j = int(rng.integers(0, len(q) - 1))
            q = q[:j] + q[j + 1] + q[j] + q[j + 2 :]
        out.append(target_path("/v1/search", {"q": q, "k": 10}))
    return out
