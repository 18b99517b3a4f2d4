"""Does monitoring tell the shop when a served model goes wrong? (`shopml bench monitoring`)

A fraud model is trained on the orders up to a cutoff (the shop as it was), then loaded by the
service's own loader over the whole workspace (the shop as it is now, with the later orders and
their labels): the suite reports what the monitors say (input drift per feature and score
drift, PSI against the training snapshot; realised AUC; the realised cost of its decisions
against flagging nothing) beside the truth, for each training window. On the fraud data the
January bot bursts (77% fraud, sign-ups and purchases in the same minute) are gone by February,
so a model trained with them flags many later orders and loses money: the monitors must say so.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.capability import LoadContext
from shopml.core.errors import ValidationError
from shopml.data.locking import open_workspace as open_locked
from shopml.data.workspace import Workspace
from shopml.predict.serving import load_task_for_serving
from shopml.predict.tasks import train_task
from shopml.registry import Registry

#: (label, last training month): trained with January's bot bursts, and without them
WINDOWS = (("Jan-May", "2015-06-01"), ("Feb-May", "2015-06-01"))


@suite("monitoring")
def run(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    model: str = "logistic",
    serve_from: str = "2015-06-01",
    **_: Any,
) -> BenchResult:
    """Train on each window, serve on everything, report the monitors (see the module doc)."""
    if (dataset is None) == (workspace is None):
        raise ValidationError("give exactly one of dataset or workspace")
    with tempfile.TemporaryDirectory() as tmp:
        full = Path(tmp) / "shop.duckdb"
        if workspace is not None:
            shutil.copy(workspace, full)
        else:
            with Workspace(full) as ws:
                ws.ingest_dataset(dataset)
        result = BenchResult(
            "monitoring",
            dataset or Path(workspace).stem,
            f"a fraud model ({model}) trained on the orders of a window before {serve_from}, "
            f"loaded by the service over every order; realised numbers on the labelled orders "
            f"after its validation period",
        )
        for label, until in WINDOWS:
            start = "2015-02-01" if label.startswith("Feb") else None
            result.rows.append(_window(Path(tmp), full, label, start, until, model))
    result.notes.append(
        "PSI: below 0.1 stable, 0.1-0.25 moderate, above 0.25 major (Siddiqi 2006). "
        "excess = realised cost of the decisions / cost of flagging nothing - 1."
    )
    return result


def _window(tmp: Path, full: Path, label: str, start: str | None, until: str, model: str) -> Row:
    past = tmp / f"{label}.duckdb"
    shutil.copy(full, past)
    with Workspace(past) as ws:  # the shop as it was when the model was trained
        ws.sql("DELETE FROM orders WHERE ts >= ?", [pd.Timestamp(until, tz="UTC")])
        if start is not None:
            ws.sql("DELETE FROM orders WHERE ts < ?", [pd.Timestamp(start, tz="UTC")])
    reg = Registry(tmp / f"{label}-registry")
    mv = train_task(past, reg.root, "fraud", model)
    ctx = LoadContext(full, lambda: open_locked(full, read_only=True))
    served = load_task_for_serving(mv, ctx)
    mon = served.monitor or {}
    drift = mon.get("input_drift") or {}
    realised = mon.get("realised") or {}
    worst = max(drift, key=drift.get) if drift else None
    metrics = {
        "validation_auc": float(mv.metrics.get("validation_auc", float("nan"))),
        "score_psi": float("nan") if mon.get("score_drift") is None else mon["score_drift"],
        "max_feature_psi": float(drift[worst]) if worst else float("nan"),
        **{k: float(v) for k, v in realised.items() if isinstance(v, int | float)},
    }
    return Row(f"{model} trained {label}", metrics, params={"worst_feature": worst},
               extra={"input_drift": drift})
