"""How fast the shop simulator generates a shop and writes it into a DuckDB workspace.

    .venv/bin/python bench/synth_speed.py                      # 100k users, ~1M events
    .venv/bin/python bench/synth_speed.py --users 10000 --json bench/results/synth_speed.json

Prints wall-clock and CPU seconds per phase (CPU time shows what a shared, busy machine
hides) and the rows written per table. Not a test: no threshold is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

from shopml.data import Workspace
from shopml.data.synth import SimConfig, simulate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--users", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=2_000)
    ap.add_argument("--days", type=int, default=180)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument(
        "--workspace", type=Path, default=None, help="DuckDB file (default: a temporary one)"
    )
    ap.add_argument("--json", type=Path, default=None, help="also write the numbers here")
    args = ap.parse_args()

    cfg = SimConfig(n_users=args.users, n_items=args.items, days=args.days, seed=args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        path = args.workspace or Path(tmp) / "synth.duckdb"
        w0, c0 = time.perf_counter(), time.process_time()
        result = simulate(cfg)
        w1, c1 = time.perf_counter(), time.process_time()
        with Workspace(path) as ws:
            reports = result.write(ws)
        w2, c2 = time.perf_counter(), time.process_time()
        size_mb = Path(path).stat().st_size / 2**20

    rows = {r.table: r.rows_accepted for r in reports}
    quarantined = sum(r.rows_quarantined for r in reports)
    out = {
        "config": {
            "n_users": cfg.n_users,
            "n_items": cfg.n_items,
            "days": cfg.days,
            "seed": cfg.seed,
        },
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cpus, "
        f"load {os.getloadavg()[0]:.1f}",
        "simulate_wall_s": round(w1 - w0, 2),
        "simulate_cpu_s": round(c1 - c0, 2),
        "write_wall_s": round(w2 - w1, 2),
        "write_cpu_s": round(c2 - c1, 2),
        "total_wall_s": round(w2 - w0, 2),
        "total_cpu_s": round(c2 - c0, 2),
        "rows": rows,
        "quarantined": quarantined,
        "workspace_mb": round(size_mb, 1),
    }
    print(
        f"synth: {cfg.n_users:,} users, {cfg.n_items:,} items, {cfg.days} days on {out['machine']}"
    )
    print(f"  simulate  {out['simulate_wall_s']:7.2f} s wall  {out['simulate_cpu_s']:7.2f} s cpu")
    print(
        f"  write     {out['write_wall_s']:7.2f} s wall  {out['write_cpu_s']:7.2f} s cpu  "
        f"({size_mb:.0f} MiB DuckDB file)"
    )
    print(f"  total     {out['total_wall_s']:7.2f} s wall  {out['total_cpu_s']:7.2f} s cpu")
    print(
        "  rows: "
        + ", ".join(f"{t} {n:,}" for t, n in rows.items())
        + f"; quarantined {quarantined}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
