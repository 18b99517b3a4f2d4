"""CPU time the service spends per request, by endpoint, and where it goes (py-spy).

    .venv/bin/python bench/serve_cpu.py --shop /tmp/shop              # builds the shop if absent
    .venv/bin/python bench/serve_cpu.py --shop /tmp/shop --profile 15 # + py-spy, top functions

Starts ``shopml serve`` (one worker) over a simulated shop (EASE, CLV, hybrid search with the
re-ranker), sends ``--requests`` requests per endpoint from the lean client
(``bench/loadclient.py``), ``--concurrency`` at a time, and divides the server process's CPU
time (user + system, every thread, from ``/proc``) by the requests answered, after subtracting
what the idle server burns in the same wall time (the feedback pump). CPU time, unlike latency,
does not grow when other programs share the cores, so it compares code changes on a busy shared
machine. ``--profile S`` also records S seconds of py-spy samples (the thread holding the GIL) per
endpoint and prints the functions with the most samples, inclusive and self. Search runs with
the per-text embedding cache off (``SHOPML_EMBED_CACHE=0``): every query is encoded.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from loadclient import closed_loop, process_cpu_s  # noqa: E402
from serve_common import HOST, Server, build_shop, commit, machine, workload  # noqa: E402

from shopml.data.synth import SimConfig  # noqa: E402


def ensure_shop(root: Path, users: int, items: int, days: int, seed: int) -> tuple[Path, Path]:
    """The shop under ``root`` (built once: simulation, EASE, CLV, hybrid search)."""
    ws, reg = root / "shop.duckdb", root / "registry"
    if ws.exists() and (reg / "search").exists():
        return ws, reg
    cfg = SimConfig(n_users=users, n_items=items, days=days, seed=seed, session_rate=0.05)
    return build_shop(root, cfg, "ease", {"l2": 200.0}, search="hybrid")


def idle_cpu_rate(pids: list[int], seconds: float = 3.0) -> float:
    """CPU seconds per second the idle server uses (background threads)."""
    c0, t0 = process_cpu_s(pids), time.perf_counter()
    time.sleep(seconds)
    return (process_cpu_s(pids) - c0) / (time.perf_counter() - t0)


#: frames every sample has (the process's entry, the event loop, thread start-up): not news
_ENTRY = re.compile(
    r"typer|click|runpy|<module>|shopml/cli/|uvicorn/(main|server|_compat)\.py|asyncio/(runners|"
    r"base_events|events)\.py|threading\.py|anyio/_backends/_asyncio\.py:\d+\)$|"
    r"_run_sync_endpoint|shopml/serve/app\.py"
)


def summarise_pyspy(raw: Path, top: int = 30) -> dict[str, list[tuple[str, float]]]:
    """Top functions by inclusive and self share of samples from py-spy's collapsed stacks
    (entry frames left out of the inclusive list)."""
    incl: Counter = Counter()
    self_: Counter = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        for f in set(frames):
            if not _ENTRY.search(f):
                incl[f] += n
        self_[frames[-1]] += n
    share = lambda c: [(f, round(100 * v / total, 1)) for f, v in c.most_common(top)]  # noqa: E731
    return {"samples": total, "inclusive_pct": share(incl), "self_pct": share(self_)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shop", type=Path, default=Path("/tmp/shopml-serve-shop"))
    # the demo's shop (``shopml demo``): 8,000 users, 800 items, 180 days, seed 7
    ap.add_argument("--users", type=int, default=8_000)
    ap.add_argument("--items", type=int, default=800)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--endpoints", default="healthz,recommend,predict_clv,search")
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--search-requests", type=int, default=400)
    ap.add_argument("--concurrency", type=int, default=4)
    ap.add_argument("--profile", type=float, default=0.0, help="py-spy seconds per endpoint")
    ap.add_argument("--label", default="", help="what this run measures (stored with it)")
    ap.add_argument("--out", type=Path, default=None, help="append the result as a JSON line")
    args = ap.parse_args()

    ws, reg = ensure_shop(args.shop, args.users, args.items, args.days, args.seed)
    os.environ["SHOPML_EMBED_CACHE"] = "0"  # every search query is encoded
    server = Server(ws, reg, workers=1)
    server.start()
    pids = server.pids()
    port = server.port
    result: dict = {
        "machine": machine(),
        "label": args.label,
        "commit": commit(),
        "command": "python " + " ".join(sys.argv),
        "endpoints": {},
    }
    try:
        idle = idle_cpu_rate(pids)
        result["idle_cpu_per_s"] = round(idle, 4)
        for name in args.endpoints.split(","):
            n = args.search_requests if name == "search" else args.requests
            targets = workload(ws, reg, name, max(n, 1000), args.seed)
            raws = [f"GET {t} HTTP/1.1\r\nHost: {HOST}:{port}\r\n\r\n".encode() for t in targets]
            closed_loop(HOST, port, raws[-50:], 50, args.concurrency)  # warm-up
            c0, t0 = process_cpu_s(pids), time.perf_counter()
            lat, statuses = closed_loop(HOST, port, raws, n, args.concurrency)
            wall = time.perf_counter() - t0
            cpu = process_cpu_s(pids) - c0 - idle * wall
            row = {
                "requests": n,
                "statuses": {str(k): v for k, v in statuses.items()},
                "cpu_us_per_request": round(1e6 * cpu / n, 1),
                "wall_s": round(wall, 2),
            }
            if args.profile > 0:
                row["profile"] = profile(pids[0], HOST, port, raws, args)
            result["endpoints"][name] = row
            print(name, json.dumps({k: v for k, v in row.items() if k != "profile"}), flush=True)
            if "profile" in row:
                p = row["profile"]
                print(f"  py-spy samples {p['samples']}")
                for title, key in (("inclusive", "inclusive_pct"), ("self", "self_pct")):
                    print(f"  {title}:")
                    for f, pct in p[key]:
                        print(f"    {pct:5.1f}%  {f}")
    finally:
        server.stop()
    if args.out is not None:
        write_runs(args.out, result)


def write_runs(out: Path, run: dict) -> None:
    """Keep ``run`` in ``out`` (JSON: a list of runs; a run with the same label is replaced)
    and write the table of every run's CPU per request beside it (``.md``)."""
    runs = json.loads(out.read_text()) if out.exists() else []
    runs = [r for r in runs if r.get("label") != run.get("label")] + [run]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(runs, indent=1) + "\n")
    names = list(dict.fromkeys(n for r in runs for n in r["endpoints"]))
    lines = [
        "# Server CPU time per request (bench/serve_cpu.py)",
        "",
        "CPU time of the server process (one worker, every thread) per request, minus the idle "
        "server's own use; microseconds. Robust to other programs on the machine, unlike latency.",
        "",
        "| run | " + " | ".join(names) + " | load | commit |",
        "|---|" + "---:|" * len(names) + "---|---|",
    ]
    for r in runs:
        cells = [str(r["endpoints"].get(n, {}).get("cpu_us_per_request", "")) for n in names]
        tail = f" | {r['machine']} | {r.get('commit', '')} |"
        lines.append(f"| {r['label']} | " + " | ".join(cells) + tail)
    out.with_suffix(".md").write_text("\n".join(lines) + "\n")


def profile(pid: int, host: str, port: int, raws: list[bytes], args: argparse.Namespace) -> dict:
    """py-spy samples of the server while the client keeps it busy."""
    raw = Path(f"/tmp/pyspy-{pid}-{time.time_ns()}.txt")
    stop = threading.Event()

    def drive() -> None:
        while not stop.is_set():
            closed_loop(host, port, raws, 200, args.concurrency)

    t = threading.Thread(target=drive, daemon=True)
    t.start()
    spy = [str(Path(sys.executable).parent / "py-spy")]
    subprocess.run(
        [*spy, "record", "-p", str(pid), "-d", str(int(args.profile)), "-r", "250",
         "-f", "raw", "-o", str(raw), "--nonblocking", "--gil", "--function"],
        check=True, capture_output=True,
    )  # fmt: skip
    stop.set()
    t.join()
    out = summarise_pyspy(raw)
    raw.unlink(missing_ok=True)
    return out


if __name__ == "__main__":
    main()
