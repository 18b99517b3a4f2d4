"""Load on the running service: latency and errors at fixed request rates, and its overhead.

    .venv/bin/python bench/serve_load.py                       # writes bench/results/serve_load.json + .md
    .venv/bin/python bench/serve_load.py --rates 25,50 --seconds 2   # a quick look

Builds a simulated shop (10,000 users, 1,000 items, 90 days by default), registers EASE and a
CLV model, starts ``shopml serve`` on 127.0.0.1 in a subprocess and drives it with an asyncio +
httpx client, open loop: request ``i`` is due at ``t0 + i / rate`` whatever happened before,
and its latency counts from that due time (so a slow server cannot hide its queue by slowing
the client down); the first 10 requests of each step (a new client opening its connections)
are left out of the percentiles. Each step lasts ``--seconds`` at the rate, with at least
``--min-requests`` (so a low rate still gives 100 latencies for its p99) and at most
``--max-requests``. For each of
recommendations, search and CLV it reports p50 / p99 latency and errors per rate, the highest
rate with p99 under 50 ms, and the overhead of the service: one request at a time over HTTP
against the same call in-process. The client runs on the same machine as the server and takes
CPU from it: the rates are what one 2-core box serves *and* generates. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_common import Server, build_shop, machine, percentile  # noqa: E402

from shopml.data import Workspace  # noqa: E402
from shopml.data.synth import SimConfig  # noqa: E402
from shopml.serve.routers.predict import clv_numbers, customer_numbers  # noqa: E402
from shopml.serve.settings import ServeSettings  # noqa: E402
from shopml.serve.state import load_snapshot  # noqa: E402

P99_TARGET_S = 0.050
WARMUP = 10  # requests per step left out of the latency percentiles (still checked for errors)
ROUTES = {
    "recommend": "/v1/recommendations/{user_id}",
    "search": "/v1/search",
    "predict_clv": "/v1/predict/clv",
}


# ----------------------------------------------------------------------------- workload
class Workload:
    """Request parameters drawn from the shop, and the same calls in-process."""

    def __init__(self, ws: Path, reg: Path, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        # the snapshot a server process builds: the same models, engine and customer summaries
        self.snap, _ = load_snapshot(ServeSettings(ws, reg), 1)
        self.model = self.snap.recommenders["ease"].model
        self.engine = self.snap.search.engine
        self.clv = self.snap.clv
        with Workspace(ws, read_only=True) as w:
            titles = w.df("items", columns=["title"])["title"]
        self.users = rng.choice(self.model.users_.ids, 2000).tolist()
        words = titles.str.lower().str.split()
        picks = rng.integers(0, len(titles), 2000)
        self.queries = [" ".join(words.iloc[i][-2:]) for i in picks]
        self.customers = rng.choice(self.clv.customers.index.to_numpy(), 2000).tolist()

    def params(self, name: str, i: int) -> tuple[str, dict]:
        if name == "recommend":
            return f"/v1/recommendations/{self.users[i % len(self.users)]}", {"k": 10}
        if name == "search":
            return "/v1/search", {"q": self.queries[i % len(self.queries)], "k": 10}
        return "/v1/predict/clv", {"user_id": self.customers[i % len(self.customers)]}

    def in_process(self, name: str) -> Callable[[int], object]:
        """The model call a request of ``name`` makes, without the service around it."""
        if name == "recommend":
            return lambda i: self.model.recommend([self.users[i % len(self.users)]], k=10)
        if name == "search":
            return lambda i: self.engine.search(self.queries[i % len(self.queries)], k=10)
        horizon = float(self.clv.config["horizon"])
        if name == "predict_clv":  # what the server does for a workspace customer: a lookup
            return lambda i: customer_numbers(
                self.clv, self.customers[i % len(self.customers)], horizon, 0.0
            )
        customers = self.clv.customers

        def compute(i: int) -> object:  # the BG/NBD + Gamma-Gamma computation for one customer
            row = customers.loc[self.customers[i % len(self.customers)]]
            x, t, age, m = (float(row[c]) for c in ("frequency", "recency", "T", "monetary_value"))
            return clv_numbers(self.clv, x, t, age, m, horizon, 0.0)

        return compute


def time_in_process(fn: Callable[[int], object], n: int) -> list[float]:
    for i in range(20):
        fn(i)
    out = []
    for i in range(n):
        t0 = time.perf_counter()
        fn(i)
        out.append(time.perf_counter() - t0)
    return out


# ----------------------------------------------------------------------------- load
async def open_loop(
    base: str,
    work: Workload,
    name: str,
    rate: float,
    seconds: float,
    max_requests: int,
    min_requests: int = 0,
) -> dict:
    """``rate`` requests per second for ``seconds`` (at least ``min_requests``, so that a low
    rate still gives enough latencies for a p99; at most ``max_requests``), open loop."""
    n = max(1, min(max(int(rate * seconds), min_requests), max_requests))
    lat: list[float] = []
    ok = [0]
    errors: Counter = Counter()
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
    async with httpx.AsyncClient(base_url=base, timeout=5.0, limits=limits) as client:
        loop = asyncio.get_running_loop()
        t0 = loop.time() + 0.05

        async def one(i: int) -> None:
            due = t0 + i / rate
            await asyncio.sleep(max(0.0, due - loop.time()))
            path, params = work.params(name, i)
            try:
                r = await client.get(path, params=params)
            except httpx.HTTPError as exc:
                errors[type(exc).__name__] += 1
                return
            if r.status_code != 200:
                errors[str(r.status_code)] += 1
            else:
                ok[0] += 1
                if i >= WARMUP:  # the first requests of a step open the client's connections
                    lat.append(loop.time() - due)

        started = time.perf_counter()
        await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(n))), timeout=seconds + 30)
        wall = time.perf_counter() - started
    return {
        "rate": rate,
        "requests": n,
        "ok": ok[0],
        "errors": sum(errors.values()),
        "error_kinds": dict(errors),
        "achieved_rps": round(n / wall, 1),
        "latencies": len(lat),
        "p50_ms": _ms(percentile(lat, 50)),
        "p90_ms": _ms(percentile(lat, 90)),
        "p99_ms": _ms(percentile(lat, 99)),
        "max_ms": _ms(max(lat) if lat else None),
    }


async def sequential(base: str, work: Workload, name: str, n: int) -> list[float]:
    """One request at a time: the service's own cost per request, without queueing."""
    out = []
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        for i in range(n + 20):
            path, params = work.params(name, i)
            t0 = time.perf_counter()
            r = await client.get(path, params=params)
            if i >= 20 and r.status_code == 200:
                out.append(time.perf_counter() - t0)
    return out


def server_seconds(base: str) -> dict[str, tuple[float, float]]:
    """Per route (sum of seconds, count) from the server's own latency histogram."""
    text = httpx.get(base + "/metrics", timeout=5).text
    out: dict[str, list[float]] = {}
    for m in re.finditer(
        r'shopml_request_seconds_(sum|count)\{method="GET",pid="\d+",route="([^"]+)"\} ([0-9.e+-]+)',
        text,
    ):
        kind, route, value = m.groups()
        out.setdefault(route, [0.0, 0.0])[0 if kind == "sum" else 1] += float(value)
    return {k: (v[0], v[1]) for k, v in out.items()}


def held_rate(steps: list[dict]) -> dict[str, float | None]:
    """Highest rate with p99 under the target and no errors: ``sustained`` also needs every lower
    rate to hold (a busy machine can fail a step and pass a higher one); ``any`` does not."""
    ok = [
        s["errors"] == 0 and s["p99_ms"] is not None and s["p99_ms"] < P99_TARGET_S * 1000
        for s in steps
    ]
    sustained = None
    for s, good in zip(steps, ok, strict=True):
        if not good:
            break
        sustained = s["rate"]
    rates = [s["rate"] for s, good in zip(steps, ok, strict=True) if good]
    return {"sustained": sustained, "any": max(rates) if rates else None}


def _ms(v: float | None) -> float | None:
    return None if v is None else round(v * 1000, 2)


# ----------------------------------------------------------------------------- report
def markdown(result: dict) -> str:
    lines = [
        "# Service load (loopback, open-loop asyncio + httpx client on the same machine)",
        "",
        f"Machine: {result['machine']}. Shop: {result['shop']}. Server: `shopml serve --workers {result['workers']}`. "
        f"Each step: {result['seconds']} s at the rate, at least {result['min_requests']} and at most "
        f"{result['max_requests']} requests; latency counted from "
        f"each request's due time; the first {WARMUP} requests of a step (opening connections) are left "
        "out of the percentiles.",
        "",
        "| endpoint | rate (req/s) | achieved | ok | errors | latencies | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, ep in result["endpoints"].items():
        for s in ep["steps"]:
            lines.append(
                f"| {name} | {s['rate']:g} | {s['achieved_rps']} | {s['ok']} | {s['errors']} | "
                f"{s.get('latencies')} | {s['p50_ms']} | "
                f"{s['p90_ms']} | {s['p99_ms']} | {s['max_ms']} |"
            )
    lines += [
        "",
        "| endpoint | highest rate with p99 < 50 ms (all lower rates too; any step) | in-process p50 ms | "
        "HTTP p50 ms (one at a time) | "
        "server-side mean ms | overhead (HTTP p50 / in-process p50) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for name, ep in result["endpoints"].items():
        o = ep["overhead"]
        lines.append(
            f"| {name} | {ep['max_rate_p99_under_50ms']}; {ep['max_rate_p99_under_50ms_any_step']} | "
            f"{o['in_process_p50_ms']} | {o['http_p50_ms']} | "
            f"{o['server_side_mean_ms']} | {o['ratio']} |"
        )
    c = result["clv_compute_in_process_ms"]
    lines += [
        "",
        f"CLV computed for one customer in-process: p50 {c['p50']} ms, p99 {c['p99']} ms ({c['note']}).",
        f"Server ready {result['server_ready_s']} s after start.",
    ]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=10_000)
    ap.add_argument("--items", type=int, default=1_000)
    ap.add_argument("--days", type=int, default=90)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--session-rate", type=float, default=0.05, help="sessions per user and day")
    ap.add_argument("--rates", default="5,10,25,50,75,100,150,200,300,400")
    ap.add_argument("--seconds", type=float, default=6.0, help="duration of each rate step")
    ap.add_argument("--max-requests", type=int, default=2000, help="cap per rate step")
    ap.add_argument(
        "--min-requests",
        type=int,
        default=110,
        help="floor per rate step (100 latencies after the warm-up: a p99 that is not just the max)",
    )
    ap.add_argument(
        "--sequential", type=int, default=300, help="one-at-a-time requests for the overhead"
    )
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--endpoints", default=",".join(ROUTES))
    ap.add_argument("--out", type=Path, default=Path("bench/results/serve_load.json"))
    args = ap.parse_args()
    rates = [float(r) for r in args.rates.split(",")]
    cfg = SimConfig(
        n_users=args.users,
        n_items=args.items,
        days=args.days,
        seed=args.seed,
        session_rate=args.session_rate,
    )

    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        ws, reg = build_shop(Path(tmp), cfg, "ease", {"l2": 200.0})
        print(f"shop built in {time.perf_counter() - t0:.1f} s", flush=True)
        work = Workload(ws, reg, args.seed)
        inproc = {
            name: time_in_process(work.in_process(name), args.sequential)
            for name in args.endpoints.split(",")
        }
        clv_compute = time_in_process(work.in_process("predict_clv_compute"), args.sequential)
        server = Server(ws, reg, workers=args.workers)
        ready_s = server.start()
        endpoints: dict[str, dict] = {}
        try:
            for name in args.endpoints.split(","):
                before = server_seconds(server.base).get(ROUTES[name], (0.0, 0.0))
                seq = asyncio.run(sequential(server.base, work, name, args.sequential))
                after = server_seconds(server.base).get(ROUTES[name], (0.0, 0.0))
                # with several workers a scrape sees one worker's counters only: None if it saw none
                n_seen = after[1] - before[1]
                srv_mean = (after[0] - before[0]) / n_seen if n_seen > 0 else None
                steps = []
                for rate in rates:
                    step = asyncio.run(
                        open_loop(
                            server.base,
                            work,
                            name,
                            rate,
                            args.seconds,
                            args.max_requests,
                            args.min_requests,
                        )
                    )
                    steps.append(step)
                    print(name, step, flush=True)
                    if (
                        step["errors"] > 0.01 * step["requests"]
                        or (step["p99_ms"] or 1e9) > 10 * P99_TARGET_S * 1000
                    ):
                        break  # far past the target: higher rates only queue more
                held = held_rate(steps)
                ip50 = percentile(inproc[name], 50)
                hp50 = percentile(seq, 50)
                endpoints[name] = {
                    "route": ROUTES[name],
                    "steps": steps,
                    "max_rate_p99_under_50ms": held["sustained"],
                    "max_rate_p99_under_50ms_any_step": held["any"],
                    "overhead": {
                        "in_process_p50_ms": _ms(ip50),
                        "in_process_p99_ms": _ms(percentile(inproc[name], 99)),
                        "http_p50_ms": _ms(hp50),
                        "http_p99_ms": _ms(percentile(seq, 99)),
                        "server_side_mean_ms": _ms(srv_mean),
                        "ratio": round(hp50 / ip50, 2) if ip50 and hp50 else None,
                    },
                }
        finally:
            server.stop()
    result = {
        "harness": "bench/serve_load.py",
        "machine": machine(),
        "shop": f"simulated, {cfg.n_users} users, {cfg.n_items} items, {cfg.days} days, "
        f"{cfg.session_rate} sessions/user/day, seed {cfg.seed}; "
        "recommender EASE (l2=200), CLV BG/NBD + Gamma-Gamma, search BM25F",
        "workers": args.workers,
        "seconds": args.seconds,
        "max_requests": args.max_requests,
        "min_requests": args.min_requests,
        "server_ready_s": round(ready_s, 2),
        "endpoints": endpoints,
        "clv_compute_in_process_ms": {
            "p50": _ms(percentile(clv_compute, 50)),
            "p99": _ms(percentile(clv_compute, 99)),
            "note": "BG/NBD + Gamma-Gamma for one customer; the server precomputes the workspace's "
            "customers at load (one vectorised pass) and computes only explicit summaries per request",
        },
        "created": pd.Timestamp.now(tz="UTC").isoformat(timespec="seconds"),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    args.out.with_suffix(".md").write_text(markdown(result))
    print(markdown(result))


if __name__ == "__main__":
    main()
