"""A lean HTTP/1.1 load client for the service harnesses: open loop over several processes,
closed loop, the server's CPU time per request, and ``wrk`` for capacity.

Why not httpx: an asyncio + httpx client spends about 300 us of CPU per request, so on this
2-core machine it saturated near 100 req/s (``bench/results/serve_load_workers2.md`` before this
harness) while ``wrk`` drove the same server to 276 req/s. This client writes pre-built request
bytes on keep-alive connections (asyncio streams) and reads ``Content-Length`` bodies: a few tens
of us per request, and the open-loop runner spreads the schedule over several processes.

Open loop: request ``i`` of a step is due at ``t0 + i / rate`` whatever happened before; its
latency counts from that due time, so a slow server (or a slow client) cannot hide a queue. The
client's own lag (send time minus due time) is reported too: when it grows, the client, not the
server, is the limit.
"""

from __future__ import annotations

import asyncio
import multiprocessing as mp
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, urlencode

import numpy as np


def request_bytes(host: str, port: int, path: str, params: dict | None = None) -> bytes:
    """A GET request for a keep-alive connection."""
    target = quote(path, safe="/:@-._~")
    if params:
        target += "?" + urlencode(params, doseq=True)
    return f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n\r\n".encode("latin-1")


def target_path(path: str, params: dict | None = None) -> str:
    """The request target (path and query string) of :func:`request_bytes`, for ``wrk``."""
    target = quote(path, safe="/:@-._~")
    return target + ("?" + urlencode(params, doseq=True) if params else "")


class _Conn:
    """One keep-alive connection: write a request, read the status and the body."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def get(self, raw: bytes) -> tuple[int, int]:
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        if m is None:
            raise ConnectionError("response without Content-Length")
        n = int(m.group(1))
        if n:
            await self.reader.readexactly(n)
        if re.search(rb"(?i)\r\nconnection:\s*close", head):
            self.close()
            raise _Closed(status)
        return status, n

    def close(self) -> None:
        self.writer.close()


class _Closed(Exception):
    def __init__(self, status: int) -> None:
        self.status = status


class _Pool:
    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.idle: list[_Conn] = []
        self.opened = 0

    async def get(self, raw: bytes) -> int:
        conn = self.idle.pop() if self.idle else None
        if conn is None:
            reader, writer = await asyncio.open_connection(self.host, self.port)
            self.opened += 1
            conn = _Conn(reader, writer)
        try:
            status, _ = await conn.get(raw)
        except _Closed as c:
            return c.status
        except BaseException:
            conn.close()
            raise
        self.idle.append(conn)
        return status

    def close(self) -> None:
        for c in self.idle:
            c.close()
        self.idle.clear()


# ----------------------------------------------------------------------------- open loop
@dataclass
class StepResult:
    """What one open-loop step measured (merged over the client processes)."""

    rate: float
    requests: int
    seconds: float
    processes: int
    latencies: list[float] = field(default_factory=list)  # from due time, after the warm-up
    lags: list[float] = field(default_factory=list)  # send time - due time
    statuses: Counter = field(default_factory=Counter)
    errors: Counter = field(default_factory=Counter)
    wall: float = 0.0  # from the first due time to the last send (achieved = requests / wall)

    def summary(self) -> dict:
        lat = np.asarray(self.latencies)
        lag = np.asarray(self.lags)

        def ms(a: np.ndarray, q: float) -> float | None:
            return round(float(np.percentile(a, q)) * 1000, 2) if len(a) else None

        ok = self.statuses.get(200, 0)
        bad = sum(v for k, v in self.statuses.items() if k != 200) + sum(self.errors.values())
        return {
            "rate": self.rate,
            "requests": self.requests,
            "processes": self.processes,
            "achieved_rps": round(self.requests / self.wall, 1) if self.wall else None,
            "ok": ok,
            "errors": bad,
            "error_kinds": {str(k): v for k, v in self.statuses.items() if k != 200}
            | dict(self.errors),
            "latencies": len(lat),
            "p50_ms": ms(lat, 50),
            "p90_ms": ms(lat, 90),
            "p99_ms": ms(lat, 99),
            "max_ms": round(float(lat.max()) * 1000, 2) if len(lat) else None,
            "client_lag_p99_ms": ms(lag, 99),
        }


def _open_loop_worker(
    host: str,
    port: int,
    raws: list[bytes],
    indices: np.ndarray,
    rate: float,
    start_at: float,
    warmup: int,
    timeout_s: float,
    out: mp.Queue,
) -> None:
    async def run() -> dict:
        pool = _Pool(host, port)
        loop = asyncio.get_running_loop()
        # ``start_at`` is wall-clock (shared by the processes); the loop clock is monotonic
        t0 = loop.time() + (start_at - time.time())
        lat: list[float] = []
        lags: list[float] = []
        statuses: Counter = Counter()
        errors: Counter = Counter()
        tasks = []

        last_send = [0.0]

        async def one(i: int, due: float) -> None:
            now = loop.time()
            lags.append(now - due)
            last_send[0] = max(last_send[0], now - t0)
            try:
                status = await asyncio.wait_for(pool.get(raws[i % len(raws)]), timeout_s)
            except Exception as exc:  # noqa: BLE001 - counted, reported by kind
                errors[type(exc).__name__] += 1
                return
            statuses[status] += 1
            if status == 200 and i >= warmup:
                lat.append(loop.time() - due)

        for i in indices:
            due = t0 + i / rate
            delay = due - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.ensure_future(one(int(i), due)))
        await asyncio.gather(*tasks)
        pool.close()
        return {"lat": lat, "lags": lags, "statuses": dict(statuses), "errors": dict(errors),
                "last_send": last_send[0]}  # fmt: skip

    out.put(asyncio.run(run()))


def open_loop(
    host: str,
    port: int,
    raws: Sequence[bytes],
    rate: float,
    n: int,
    processes: int,
    warmup: int = 10,
    timeout_s: float = 10.0,
) -> StepResult:
    """``n`` requests at ``rate`` per second, request ``i`` due at ``t0 + i / rate``, sent by
    ``processes`` client processes (process ``p`` sends every ``p``-th request)."""
    ctx = mp.get_context("fork")
    q: mp.Queue = ctx.Queue()
    start_at = time.time() + 0.3 + 0.05 * processes  # all processes forked and waiting by then
    procs = [
        ctx.Process(
            target=_open_loop_worker,
            args=(host, port, list(raws), np.arange(p, n, processes), rate, start_at, warmup,
                  timeout_s, q),
            daemon=True,
        )
        for p in range(processes)
    ]  # fmt: skip
    for p in procs:
        p.start()
    parts = [q.get() for _ in procs]
    for p in procs:
        p.join()
    # the rate the requests went out at: n requests over the span of their send times
    span = max(part["last_send"] for part in parts) + 1.0 / rate
    res = StepResult(rate, n, n / rate, processes, wall=span)
    for part in parts:
        res.latencies += part["lat"]
        res.lags += part["lags"]
        res.statuses.update(part["statuses"])
        res.errors.update(part["errors"])
    return res


# ----------------------------------------------------------------------------- closed loop
async def _closed_loop(
    host: str, port: int, raws: Sequence[bytes], n: int, concurrency: int
) -> tuple[list[float], Counter]:
    pool = _Pool(host, port)
    loop = asyncio.get_running_loop()
    counter = iter(range(n))
    lat: list[float] = []
    statuses: Counter = Counter()

    async def worker() -> None:
        for i in counter:
            t0 = loop.time()
            statuses[await pool.get(raws[i % len(raws)])] += 1
            lat.append(loop.time() - t0)

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    pool.close()
    return lat, statuses


def closed_loop(
    host: str, port: int, raws: Sequence[bytes], n: int, concurrency: int = 1
) -> tuple[list[float], Counter]:
    """``n`` requests, ``concurrency`` at a time (each connection sends its next request as soon
    as the previous answer is in); returns the latencies and the status counts."""
    return asyncio.run(_closed_loop(host, port, raws, n, concurrency))


# ----------------------------------------------------------------------------- CPU time
def process_cpu_s(pids: Sequence[int]) -> float:
    """User + system CPU seconds of the processes (every thread, living or ended)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / tick


# ----------------------------------------------------------------------------- wrk
WRK_LUA = """
local paths = {}
for line in io.lines(os.getenv("WRK_PATHS")) do paths[#paths + 1] = line end
local counter = 0
function setup(thread)
  thread:set("offset", counter * 7919)
  counter = counter + 1
end
local i = 0
function request()
  i = i + 1
  return wrk.format("GET", paths[((i + offset) % #paths) + 1])
end
"""


def wrk(
    base: str,
    paths: Sequence[str],
    connections: int,
    seconds: float,
    threads: int = 1,
) -> dict:
    """Closed-loop capacity with ``wrk`` (compiled; Debian package ``wrk``): requests per
    second, latency percentiles and non-2xx answers, cycling through ``paths``."""
    exe = shutil.which("wrk")
    if exe is None:
        raise RuntimeError("wrk is not installed: apt-get install -y wrk")
    with tempfile.TemporaryDirectory() as tmp:
        script, plist = Path(tmp) / "paths.lua", Path(tmp) / "paths.txt"
        script.write_text(WRK_LUA)
        plist.write_text("\n".join(paths) + "\n")
        cmd = [exe, f"-t{threads}", f"-c{connections}", f"-d{seconds:g}s", "--latency",
               "-s", str(script), base]  # fmt: skip
        out = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, "WRK_PATHS": str(plist)},
            timeout=seconds + 60,
        ).stdout  # fmt: skip
    return parse_wrk(out) | {"connections": connections, "threads": threads, "seconds": seconds}


def _ms(text: str) -> float:
    m = re.match(r"([0-9.]+)(us|ms|s|m)", text)
    if m is None:
        return float("nan")
    v, unit = float(m.group(1)), m.group(2)
    return round(v * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 6e4}[unit], 3)


def parse_wrk(out: str) -> dict:
    """Requests per second, p50/p90/p99 (ms), requests, non-2xx and socket errors of a wrk run."""
    res: dict = {}
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    res["rps"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", out)
    res["requests"] = int(m.group(1)) if m else None
    for q in ("50", "90", "99"):
        m = re.search(rf"^\s+{q}(?:\.000)?%\s+(\S+)", out, re.M)
        res[f"p{q}_ms"] = _ms(m.group(1)) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    res["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    res["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    if res["rps"] is None:
        res["raw"] = out[-2000:]
    return res


# ----------------------------------------------------------------------------- stub server
_STUB_ANSWER = (
    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 15\r\n\r\n"
    b'{"status":"ok"}'
)


class _StubProtocol(asyncio.Protocol):
    """Answers every request (a head ending in a blank line; GET, no body) at once."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4 :]
            self.transport.write(_STUB_ANSWER * n)  # type: ignore[attr-defined]


def _stub_main(port: int, ready: mp.Event) -> None:
    async def run() -> None:
        server = await asyncio.get_running_loop().create_server(_StubProtocol, "127.0.0.1", port)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(run())


class StubServer:
    """A near-free HTTP server in its own process (fixed answer): what the client alone can do
    on this machine, with almost nothing on the other side."""

    def __init__(self, port: int) -> None:
        self.port = port
        ctx = mp.get_context("fork")
        self._ready = ctx.Event()
        self._proc = ctx.Process(target=_stub_main, args=(port, self._ready), daemon=True)

    def __enter__(self) -> StubServer:
        self._proc.start()
        if not self._ready.wait(10):
            raise RuntimeError("stub server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        self._proc.terminate()
        self._proc.join(5)
