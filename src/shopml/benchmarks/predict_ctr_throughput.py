"""``shopml bench predict --task ctr_throughput --dataset synth``: training rows per second of the
CTR networks on a million simulated impressions, shopml beside deepctr-torch.

Protocol: the shop simulator (:func:`shopml.data.synth.simulate`, ``impression_share=1``, seed
0, enough users for ``rows`` impressions; ``--workspace`` uses a workspace's impressions
instead) is written to an in-memory workspace; :func:`shopml.predict.impressions.impression_features`
builds the features (position, item, its category/brand/price/attributes, the user's country,
device, age band, tenure, hour, day of week, the session's category). Rows are in time order;
the first 80% train, the last 20% test (an AUC to show each model learned; the simulator's
clicks have a known model, so this is a sanity check, not a quality claim). Every model trains
``epochs`` epoch(s) with the same batch size, embedding size and hidden layers, no early
stopping, on one torch thread (the machine is shared; per-thread numbers compare fairly).

``fit s`` is end to end: encoding the frame (shopml's :class:`FeatureEncoder`, used by the
peer too, so both sides pay it) plus training. The machine is shared (2 cores, several jobs), so
wall time depends on the neighbours; the main figure is per CPU-second of this process
(``time.process_time``, one torch thread): ``rows/cpu-s`` = training rows x epochs / fit CPU
seconds, ``loop rows/cpu-s`` without the encoding (measured once on its own), ``rows/s`` the
same on the wall clock. Each model first fits once,
untimed, on two batches (warm-up). Timings on a shared machine vary from run to run; compare
rows of one run.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from shopml.benchmarks.classify import metrics_with_ci
from shopml.benchmarks.runner import BenchResult, Row
from shopml.core.errors import DataError, ValidationError

# impressions per simulated user with impression_share=1 and the default rates (about 9.3;
# measured: 30,000 users -> 279,168 impressions), with a margin
IMPRESSIONS_PER_USER = 8.5


def _workspace(dataset: str | None, workspace: str | Path | None, rows: int):
    from shopml.data.workspace import Workspace

    if workspace is not None:
        if not Path(workspace).exists():
            raise DataError(f"workspace {workspace} does not exist")
        return Workspace(workspace, read_only=True), f"workspace {Path(workspace).name}"
    if dataset not in (None, "synth"):
        raise ValidationError(
            f"ctr_throughput runs on the simulator (--dataset synth) or --workspace, not {dataset!r}"
        )
    from shopml.data.synth import simulate

    n_users = int(np.ceil(rows / IMPRESSIONS_PER_USER))
    sim = simulate(n_users=n_users, impression_share=1.0, seed=0)
    ws = Workspace(":memory:")
    for name in ("items", "impressions"):
        ws.append(name, sim.arrow(name), source="synth")
    return ws, f"simulator (n_users={n_users}, impression_share=1, seed=0)"


def run(
    dataset: str | None = "synth",
    workspace: str | Path | None = None,
    quick: bool = False,
    rows: int | None = None,
    epochs: int = 1,
    batch_size: int = 4096,
    **_: Any,
) -> BenchResult:
    """The throughput benchmark (see the module docstring); returns the rows, writes nothing."""
    import torch

    from shopml.benchmarks.deepctr_peer import DeepCTRPeer, deepctr_available
    from shopml.predict.dcn import DCNv2Classifier
    from shopml.predict.deepfm import DeepFMClassifier
    from shopml.predict.encoding import FeatureEncoder
    from shopml.predict.impressions import impression_features

    torch.set_num_threads(1)
    rows = int(rows) if rows is not None else (100_000 if quick else 1_250_000)
    t0 = time.perf_counter()
    ws, source = _workspace(dataset, workspace, rows)
    with ws:
        data = impression_features(ws, limit=rows)
    prep_s = time.perf_counter() - t0
    n = len(data)
    cut = int(n * 0.8)
    Xtr, ytr = data.X.iloc[:cut], data.y[:cut]
    Xte, yte = data.X.iloc[cut:], data.y[cut:]
    t0, c0 = time.perf_counter(), time.process_time()
    FeatureEncoder().fit(Xtr).transform(Xtr)
    encode_s, encode_cpu = time.perf_counter() - t0, time.process_time() - c0
    common = {
        "embedding_dim": 8,
        "hidden": (128, 64),
        "dropout": 0.0,
        "epochs": int(epochs),
        "batch_size": int(batch_size),
        "patience": None,
    }
    models: list[tuple[str, Any, bool]] = [
        ("DeepFM", lambda s: DeepFMClassifier(lr=1e-3, seed=s, **common), False),
        (
            "DCN-v2 (parallel, 3 cross layers)",
            lambda s: DCNv2Classifier(cross_layers=3, lr=1e-3, seed=s, **common),
            False,
        ),
    ]
    why = deepctr_available()
    if why is None:
        models += [
            (
                "deepctr-torch DeepFM",
                lambda s: DeepCTRPeer("deepfm", lr=1e-3, seed=s, **common),
                True,
            ),
            (
                "deepctr-torch DCN-M (3 cross layers)",
                lambda s: DeepCTRPeer("dcn", cross_layers=3, lr=1e-3, seed=s, **common),
                True,
            ),
        ]
    result = BenchResult(
        capability="predict",
        dataset=str(dataset or Path(str(workspace)).stem),
        protocol=(
            f"ctr throughput: {source}; {n} impressions ({int(data.y.sum())} clicks), first {cut} train "
            f"({epochs} epoch(s), batch {batch_size}, embedding 8, hidden 128-64, 1 torch thread), last {n - cut} test"
        ),
    )
    # one untimed fit per model on a small slice first: torch's first calls allocate and warm up,
    # which would otherwise be charged to whichever model happens to run first
    warm = slice(0, min(cut, 2 * int(batch_size)))
    for _, make, _ in models:
        make(0).fit(Xtr.iloc[warm], ytr[warm])
    for name, make, peer in models:
        model = make(0)
        w0, c0 = time.perf_counter(), time.process_time()
        model.fit(Xtr, ytr)
        fit_wall, fit_cpu = time.perf_counter() - w0, time.process_time() - c0
        w0, c0 = time.perf_counter(), time.process_time()
        p = np.clip(np.asarray(model.predict_proba(Xte), dtype=np.float64), 1e-7, 1 - 1e-7)
        pred_wall, pred_cpu = time.perf_counter() - w0, time.process_time() - c0
        m = metrics_with_ci(yte, p, n_boot=0)
        params = {
            k: (list(v) if isinstance(v, tuple) else v) for k, v in model.get_params().items()
        }
        metrics = {
            "rows/cpu-s": cut * int(epochs) / fit_cpu,
            "loop rows/cpu-s": cut * int(epochs) / max(fit_cpu - encode_cpu, 1e-9),
            "rows/s": cut * int(epochs) / fit_wall,
            "predict rows/cpu-s": (n - cut) / max(pred_cpu, 1e-9),
            "auc": m["auc"],
            "log_loss": m["log_loss"],
        }
        extra = {"fit_cpu_seconds": fit_cpu, "predict_cpu_seconds": pred_cpu}
        result.rows.append(Row(name, metrics, peer, fit_wall, pred_wall, params, extra))
    result.notes += [
        f"features ({len(data.X.columns)}): categorical {data.categorical}; numeric {data.numeric}",
        f"simulating/reading and building features took {prep_s:.1f} s; encoding the training frame "
        f"(FeatureEncoder fit + transform) {encode_s:.2f} s ({encode_cpu:.2f} CPU s), included in every "
        "model's fit",
        "peer: deepctr-torch 0.3.0 on the same encoded arrays (its own fit loop: DataLoader over a "
        "TensorDataset)"
        if why is None
        else f"peer: deepctr-torch does not import here ({why})",
        "fuxictr 2.3.10 installs only with --no-deps and then fails to import (needs polars and h5py, "
        "not installed here): not a peer",
    ]
    return result


__all__ = ["run"]
