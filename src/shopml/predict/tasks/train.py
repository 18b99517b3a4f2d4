"""Train, register, load and score a task model (CLI ``shopml predict``, the service)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError
from shopml.core.persist import atomic_write_json, read_json
from shopml.evaluation.monitoring import Reference
from shopml.predict.base import Predictor
from shopml.predict.calibration import Calibrator, make_calibrator
from shopml.predict.decision import CostMatrix, bayes_threshold
from shopml.predict.tasks.base import (
    CALIBRATOR_FILE,
    CAPABILITY,
    MONITOR_FILE,
    sequence_groups,
)
from shopml.predict.tasks.models import make_model
from shopml.predict.tasks.registry import (
    check_task,
    default_costs,
    get_task,
    task_options,
    training_data,
)


def _read_training(task: str, workspace: str | Path, opts: dict[str, Any]):
    """The task's training rows and the fingerprints of its tables. The workspace is opened
    with the retrying opener (under the process-wide lock, as the service's own writes), so
    training works while a server, in this process or another, writes feedback into it."""
    from shopml.data.locking import open_workspace

    if not Path(workspace).exists():
        raise DataError(f"workspace {workspace} does not exist")
    with open_workspace(workspace, read_only=True) as ws:
        Xtr, ytr, Xv, yv, info = training_data(task, ws, opts)
        fingerprint = {t: ws.fingerprint(t) for t in get_task(task).tables}
    return Xtr, ytr, Xv, yv, info, fingerprint


def train_task(
    workspace: str | Path,
    registry: str | Path,
    task: str,
    model: str = "lightgbm",
    params: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    fit: Callable[[Predictor, pd.DataFrame, np.ndarray], Predictor] | None = None,
):
    """Fit ``model`` for ``task`` on the workspace, calibrate on validation, register
    ``predict/<name or task>``; returns the :class:`~shopml.registry.ModelVersion`.

    ``fit(model, X, y) -> fitted`` replaces the local ``model.fit(X, y, eval_set=validation)``,
    e.g. :func:`shopml.distributed.train.predictor_fit` (Ray Train; no early stopping)."""
    from shopml.evaluation.classification import classification_metrics
    from shopml.registry import Registry

    opts = task_options(task, options)
    Xtr, ytr, Xv, yv, info, fingerprint = _read_training(task, workspace, opts)
    if model == "gru" and "sequences" not in (params or {}):
        groups = sequence_groups(list(Xtr.columns), pd.concat([Xtr, Xv]))
        params = {**(params or {}), "sequences": groups}
    m = make_model(model, task, params, columns=list(Xtr.columns))
    t0 = time.perf_counter()
    if fit is None:
        m.fit(Xtr, ytr, eval_set=(Xv, yv))
    else:
        m = fit(m, Xtr, ytr)
    fit_s = time.perf_counter() - t0
    p_val = m.predict_proba(Xv)
    cal = make_calibrator("isotonic").fit(p_val, yv)
    vm = classification_metrics(yv, p_val, fprs=(0.01, 0.05))
    metrics = {
        "validation_auc": vm["auc"],
        "validation_auprc": vm["auprc"],
        "validation_positive_rate": vm["positive_rate"],
        "train_rows": len(ytr),
        "validation_rows": len(yv),
        "fit_seconds": fit_s,
    }
    config = {
        "task": task,
        "model": model,
        "params": m.get_params(),
        "options": opts,
        "entity": get_task(task).entity,
        **info,
    }
    if getattr(m, "train_info_", None):  # where it was trained: Ray Train's workers and steps
        config["train"] = m.train_info_

    # what monitoring compares served rows and scores with (input and score drift)
    reference = Reference.from_frame(Xtr, cal.transform(p_val)).to_dict()

    def write(folder: Path) -> None:
        m.save(folder)
        cal.save(folder / CALIBRATOR_FILE)
        atomic_write_json(folder / MONITOR_FILE, reference)

    return Registry(registry).register(
        CAPABILITY,
        name or task,
        write,
        config=_jsonable(config),
        metrics=metrics,
        data_fingerprint=fingerprint,
    )


@dataclass(frozen=True)
class LoadedTask:
    """A registered task model ready to score."""

    task: str
    model: Predictor
    calibrator: Calibrator
    config: dict[str, Any]
    version: Any = None
    reference: Reference | None = None  # the training snapshot (None: trained before monitoring)

    @property
    def feature_names(self) -> list[str]:
        """The features the model was fitted on, in order."""
        return list(self.model.feature_names_)


def load_task(registry: Any, version: Any) -> LoadedTask:
    """Load (after verifying its checksums) a version written by :func:`train_task`."""
    from shopml.predict.base import load_predictor

    registry.verify(version)
    config = dict(version.meta.get("config") or {})
    task = check_task(str(config.get("task")))
    model = load_predictor(version.path)
    cal = Calibrator.load(version.path / CALIBRATOR_FILE)
    ref_path = version.path / MONITOR_FILE
    reference = Reference.from_dict(read_json(ref_path)) if ref_path.exists() else None
    return LoadedTask(task, model, cal, config, version, reference)


def score_task(
    loaded: LoadedTask, X: pd.DataFrame, costs: CostMatrix | None = None
) -> pd.DataFrame:
    """Raw and calibrated probabilities per row of ``X``; for tasks with a cost matrix (fraud,
    ctr, conversion: :func:`default_costs`; or ``costs`` given) also the Bayes minimum-risk
    decision and its threshold."""
    p_raw = loaded.model.predict_proba(X)
    p = loaded.calibrator.transform(p_raw)
    out = pd.DataFrame({"p_raw": p_raw, "probability": p}, index=X.index)
    if costs is None:
        costs = default_costs(loaded.task, X, loaded.config.get("options", {}))
    if costs is not None:
        thr = np.broadcast_to(np.asarray(bayes_threshold(costs, len(X)), dtype=float), (len(X),))
        out["threshold"] = thr
        out["decision"] = (p >= thr).astype(np.int8)
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_jsonable(v) for v in obj]
    return obj
