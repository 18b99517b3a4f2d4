"""Durability of feedback: kill -9 the server in the middle of a feedback load, restart it, and
check that every acknowledged event is in the workspace exactly once.

    .venv/bin/python bench/serve_durability.py                 # writes bench/results/serve_durability.json

Each round: concurrent asyncio senders post feedback (1-5 events a request, fresh event ids,
and some requests that resend already acknowledged ids, as a client retrying would) to
``shopml serve --workers 2`` on 127.0.0.1; after a random moment the whole process group gets
SIGKILL (no shutdown code runs). The server is restarted on the same workspace; once its writer
has taken in the dead processes' logs, the workspace's ``events`` table is checked: every
acknowledged event id present, none twice. Requests in flight at the kill have no answer: their
events may or may not be there (both are correct), and are counted separately. Not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from serve_common import API_KEY, Server, build_shop, machine, percentile  # noqa: E402

from shopml.data.synth import SimConfig  # noqa: E402
from shopml.serve.feedback import log_files, read_offsets  # noqa: E402
from shopml.serve.settings import ServeSettings  # noqa: E402
from shopml.serve.workspace_io import open_workspace  # noqa: E402


class Load:
    """What the senders sent and what the server acknowledged."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.acked: set[str] = set()
        self.unanswered: set[str] = set()  # sent, no answer (in flight at the kill)
        self.rejected: dict[str, int] = {}
        self.replays_acked = 0
        self.requests_acked = 0
        self.latencies: list[float] = []
        self.counter = 0

    def new_ids(self, n: int) -> list[str]:
        out = [f"dur-{self.tag}-{self.counter + i}" for i in range(n)]
        self.counter += n
        return out


async def sender(
    base: str, load: Load, stop: asyncio.Event, rng: random.Random, max_requests: int
) -> None:
    headers = {"X-API-Key": API_KEY}
    async with httpx.AsyncClient(base_url=base, timeout=5.0) as client:
        for _ in range(max_requests):
            if stop.is_set():
                return
            ids = load.new_ids(rng.randint(1, 5))
            replay = bool(load.acked) and rng.random() < 0.1
            if replay:
                ids.append(rng.choice(sorted(load.acked)))
            events = [
                {"event_id": i, "event_type": rng.choice(["view", "click", "add_to_cart"]),
                 "user_id": f"u{rng.randint(0, 299):07d}", "item_id": f"i{rng.randint(0, 59):06d}"}
                for i in ids
            ]  # fmt: skip
            load.unanswered.update(ids)
            t0 = time.perf_counter()
            try:
                r = await client.post("/v1/feedback", json={"events": events}, headers=headers)
            except httpx.HTTPError:
                return  # the server is gone: these ids stay unanswered
            if r.status_code == 202:
                load.latencies.append(time.perf_counter() - t0)
                load.acked.update(ids)
                load.unanswered.difference_update(ids)
                load.requests_acked += 1
                load.replays_acked += int(replay)
            else:
                load.rejected[str(r.status_code)] = load.rejected.get(str(r.status_code), 0) + 1
                load.unanswered.difference_update(ids)


async def run_and_kill(
    server: Server, load: Load, senders: int, kill_after: float, seed: int, max_requests: int
) -> float:
    """Senders hammer the server; the process group is killed after ``kill_after`` seconds."""
    stop = asyncio.Event()
    rng = random.Random(seed)
    tasks = [
        asyncio.create_task(
            sender(server.base, load, stop, random.Random(rng.random()), max_requests)
        )
        for _ in range(senders)
    ]
    await asyncio.sleep(kill_after)
    t_kill = time.perf_counter()
    server.kill()
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=60)
    return t_kill


def backlog_bytes(settings: ServeSettings) -> int:
    """Complete-line bytes of the feedback logs not yet taken into the workspace."""
    offsets = read_offsets(settings.feedback_dir)
    total = 0
    for path in log_files(settings.feedback_dir):
        data = path.read_bytes()
        end = data.rfind(b"\n") + 1
        total += max(0, end - offsets.get(path.name, 0))
    return total


def check(ws: Path, loads: list[Load]) -> dict:
    with open_workspace(ws) as w:
        counts = w.sql(
            "SELECT event_id, count(*) AS n FROM events WHERE event_id LIKE 'dur-%' GROUP BY 1"
        )
        dup_any = int(
            w.sql(
                "SELECT count(*) - count(DISTINCT event_id) AS d FROM events WHERE event_id IS NOT NULL"
            )["d"][0]
        )
        quarantined = int(
            w.sql("SELECT count(*) AS n FROM quarantine WHERE source = 'feedback'")["n"][0]
        )
    present = dict(zip(counts["event_id"], counts["n"], strict=True))
    acked = set().union(*(ld.acked for ld in loads))
    unanswered = set().union(*(ld.unanswered for ld in loads))
    return {
        "acked_events": len(acked),
        "acked_missing": len(acked - present.keys()),
        "events_more_than_once": int(sum(n > 1 for n in present.values())),
        "duplicate_event_ids_in_table": dup_any,
        "unanswered_events": len(unanswered),
        "unanswered_found": len(unanswered & present.keys()),
        "unexpected_events": len(present.keys() - acked - unanswered),
        "feedback_rows_quarantined": quarantined,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--senders", type=int, default=16)
    ap.add_argument(
        "--kill-after", type=float, default=4.0, help="mean seconds of load before the kill"
    )
    ap.add_argument("--max-requests", type=int, default=5000, help="cap per sender and round")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("bench/results/serve_durability.json"))
    args = ap.parse_args()
    rng = random.Random(args.seed)
    cfg = SimConfig(n_users=300, n_items=60, days=30, seed=1, session_rate=0.3)
    rounds, loads = [], []
    with tempfile.TemporaryDirectory() as tmp:
        ws, reg = build_shop(Path(tmp), cfg, "ease", {"l2": 10.0})
        settings = ServeSettings(ws, reg)
        server = Server(ws, reg, workers=args.workers)
        ready = server.start()
        try:
            for r in range(args.rounds):
                load = Load(str(r))
                loads.append(load)
                kill_after = args.kill_after * rng.uniform(0.5, 1.5)
                t0 = time.perf_counter()
                t_kill = asyncio.run(
                    run_and_kill(
                        server,
                        load,
                        args.senders,
                        kill_after,
                        rng.randrange(1 << 30),
                        args.max_requests,
                    )
                )
                backlog = backlog_bytes(settings)
                restart = server.start()  # the new writer takes in the dead processes' logs
                t1 = time.perf_counter()
                while backlog_bytes(settings) and time.perf_counter() - t1 < 120:
                    time.sleep(0.05)
                drained = time.perf_counter() - t1
                result = check(ws, loads)
                acked_n = len(load.acked)
                rounds.append(
                    {
                        "round": r,
                        "load_seconds": round(t_kill - t0, 2),
                        "requests_acked": load.requests_acked,
                        "events_acked": acked_n,
                        "replays_acked": load.replays_acked,
                        "events_acked_per_s": round(acked_n / (t_kill - t0), 1),
                        "ack_p50_ms": round(1000 * (percentile(load.latencies, 50) or 0), 2),
                        "ack_p99_ms": round(1000 * (percentile(load.latencies, 99) or 0), 2),
                        "unanswered_at_kill": len(load.unanswered),
                        "rejected": load.rejected,
                        "log_backlog_bytes_at_kill": backlog,
                        "restart_ready_s": round(restart, 2),
                        "backlog_taken_in_s": round(drained, 2),
                        "check_all_rounds_so_far": result,
                    }
                )
                print(json.dumps(rounds[-1]), flush=True)
        finally:
            code = server.stop()
        final = check(ws, loads)
    ok = (
        final["acked_missing"] == 0
        and final["events_more_than_once"] == 0
        and final["duplicate_event_ids_in_table"] == 0
    )
    out = {
        "harness": "bench/serve_durability.py",
        "machine": machine(),
        "server": f"shopml serve --workers {args.workers} on 127.0.0.1; {args.senders} concurrent senders; "
        "SIGKILL to the whole process group mid-load, then restart",
        "first_ready_s": round(ready, 2),
        "rounds": rounds,
        "final": final,
        "final_stop_exit_code": code,
        "every_acknowledged_event_exactly_once": ok,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out["final"], indent=2), "\nevery acknowledged event exactly once:", ok)
    if not ok:
        sys.exit(1)


if __name__ == "__main__":
    main()
