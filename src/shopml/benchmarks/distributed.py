"""Batch recommendation over every user: the local engine beside the Ray engine, same machine.

``shopml bench distributed --dataset synth`` simulates a shop (``quick``: 5,000 users, 500
items; otherwise 50,000 users, 2,000 items), fits EASE on its interactions, and writes top-10
lists for every user twice: with the local engine and with Ray Data on a local Ray using every
core, twice in one Ray session (``--workspace W`` benchmarks an ingested workspace instead). The
files are checked to be identical. Ray's start-up is measured apart from the batch jobs, because
a cluster pays it once, not per job; each job still starts its own scoring actors.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import ValidationError

K = 10


def _interactions(dataset: str | None, workspace: str | Path | None, quick: bool, seed: int):
    from shopml.data import Workspace
    from shopml.recommend.train import ITEM_COLUMNS, load_interactions

    if workspace is None:
        if dataset not in (None, "synth"):
            raise ValidationError(
                f"the distributed suite runs on 'synth' (or a workspace), got {dataset!r}"
            )
        from shopml.data.synth import SimConfig, simulate

        users, items = (5_000, 500) if quick else (50_000, 2_000)
        config = SimConfig(n_users=users, n_items=items, days=90, seed=seed)
        with tempfile.TemporaryDirectory() as tmp:
            with Workspace(Path(tmp) / "shop.duckdb") as ws:
                simulate(config).write(ws)
                frame, _ = load_interactions(ws)
                catalogue = ws.df("items", columns=ITEM_COLUMNS)
        return frame, catalogue, f"synth ({users} users, {items} items, 90 days, seed {seed})"
    with Workspace(workspace, read_only=True) as ws:
        frame, _ = load_interactions(ws)
        catalogue = ws.df("items", columns=ITEM_COLUMNS)
    return frame, catalogue, Path(str(workspace)).stem


@suite("distributed")
def run(
    dataset: str | None = "synth",
    workspace: str | Path | None = None,
    quick: bool = False,
    seed: int = 0,
    task: str | None = None,
    **_: Any,
) -> BenchResult:
    """Time ``shopml batch recommend`` over every user with each engine (see the module docstring)."""
    from shopml.distributed.batch import recommend_job, run_batch
    from shopml.distributed.engine import require_ray
    from shopml.recommend.ease import EASE

    if task not in (None, "batch-recommend"):
        raise ValidationError(f"distributed tasks: 'batch-recommend' (default), got {task!r}")
    load_start = os.getloadavg()[0]
    frame, catalogue, label = _interactions(dataset, workspace, quick, seed)
    t0 = time.perf_counter()
    model = EASE(l2=200.0).fit(frame, items=catalogue if len(catalogue) else None)
    fit_s = time.perf_counter() - t0
    n_users = len(model.users_)
    rows, notes = [], []
    with tempfile.TemporaryDirectory() as tmp:
        out = {e: Path(tmp) / f"{e}.parquet" for e in ("local", "ray")}
        local = run_batch(recommend_job(model, k=K), out["local"], engine="local")
        ray = require_ray()
        cpus = os.cpu_count() or 1
        t0 = time.perf_counter()
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
        start_s = time.perf_counter() - t0
        try:
            # twice in one session: the second job shows the per-job cost once Ray is up
            dist = [
                run_batch(recommend_job(model, k=K), out["ray"], engine="ray") for _ in range(2)
            ]
        finally:
            ray.shutdown()
        same = pd.read_parquet(out["local"]).equals(pd.read_parquet(out["ray"]))
    for name, res, extra in (
        ("local", local, {}),
        (f"ray ({cpus} CPUs, local), 1st job", dist[0], {"ray_start_seconds": round(start_s, 2)}),
        (f"ray ({cpus} CPUs, local), 2nd job", dist[1], {}),
    ):
        rows.append(
            Row(
                model=name,
                metrics={
                    "users_per_second": res.rows_in / res.seconds,
                    "rows": float(res.rows_out),
                },
                fit_seconds=fit_s,
                predict_seconds=res.seconds,
                params={"recommender": "EASE(l2=200)", "k": K, "batches": res.batches},
                extra={**extra, "identical_to_local": same},
            )
        )
    notes.append(
        f"{n_users} users with interactions, {len(model.items_)} items; "
        f"the Parquet files of both engines are identical: {same}"
    )
    notes.append(
        f"Ray start-up ({start_s:.1f} s) is not in the ray row's seconds: a cluster pays it once. "
        "On one small machine Ray only adds overhead; it pays off when the users are spread over "
        "many machines."
    )
    notes.append(
        f"load average at the start / end: {load_start:.1f} / {os.getloadavg()[0]:.1f} "
        f"on {cpus} cores (other work on the machine inflates Ray's process start-ups most)"
    )
    return BenchResult(
        capability="distributed",
        dataset=label,
        protocol=f"batch top-{K} for every training user, seen items removed, written to Parquet",
        rows=rows,
        notes=notes,
    )
