"""ALS fit speed: shopml's ALS against implicit's at the same settings and threads."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

from shopml.benchmarks.recommend_models import THREADS
from shopml.recommend.interactions import Interactions


def als_speed(
    data: Interactions, factors: int = 64, iterations: int = 15, repeats: int = 3
) -> dict[str, float]:
    """Median fit seconds of shopml ALS and implicit ALS at the same factors, iterations and
    CG steps (3), both on :data:`THREADS` threads: wall clock, and CPU time of the process
    (steadier on a shared machine, where the wall clock also measures the neighbours)."""
    from implicit.cpu.als import AlternatingLeastSquares

    from shopml.recommend.als import ALS

    X = data.matrix.tocsr().astype(np.float32)
    wall: dict[str, list[float]] = {"shopml": [], "implicit": []}
    cpu: dict[str, list[float]] = {"shopml": [], "implicit": []}

    def fit_ours(r: int) -> None:
        ALS(
            embedding_dim=factors,
            iterations=iterations,
            cg_steps=3,
            regularization=0.05,
            seed=r,
            num_threads=THREADS,
        ).fit(data)

    def fit_theirs(r: int) -> None:
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(
                factors=factors,
                iterations=iterations,
                regularization=0.05,
                num_threads=THREADS,
                random_state=r,
            ).fit(X, show_progress=False)

    # warm-up: imports, thread pools, first touch of memory
    fit_ours(0)
    fit_theirs(0)
    for r in range(repeats):  # interleaved, so a busy moment of the machine hits both
        for name, fit in (("shopml", fit_ours), ("implicit", fit_theirs)):
            t0, c0 = time.perf_counter(), time.process_time()
            fit(r)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    o, t = float(np.median(wall["shopml"])), float(np.median(wall["implicit"]))
    oc, tc = float(np.median(cpu["shopml"])), float(np.median(cpu["implicit"]))
    return {
        "shopml_als_s": round(o, 3),
        "implicit_als_s": round(t, 3),
        "ratio": round(o / t, 2),
        "shopml_als_cpu_s": round(oc, 3),
        "implicit_als_cpu_s": round(tc, 3),
        "cpu_ratio": round(oc / tc, 2),
    }


def speed_note(speed: dict[str, float]) -> str:
    return (
        f"ALS fit, factors 64, 15 iterations, 3 CG steps, {THREADS} threads, median of 3: "
        f"shopml {speed['shopml_als_s']} s, implicit {speed['implicit_als_s']} s, ratio "
        f"{speed['ratio']}; CPU time shopml {speed['shopml_als_cpu_s']} s, implicit "
        f"{speed['implicit_als_cpu_s']} s, ratio {speed['cpu_ratio']}"
    )


@dataclass
class _Threads:
    restore: Callable[[], None]


def limit_threads(n: int) -> _Threads:
    """BLAS and torch limited to ``n`` threads for the run (peers get ``num_threads=n``)."""
    limiter = threadpool_limits(n)
    try:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a core dependency
        before = None

    def restore() -> None:
        limiter.restore_original_limits()
        if before is not None:
            import torch

            torch.set_num_threads(before)

    return _Threads(restore)
