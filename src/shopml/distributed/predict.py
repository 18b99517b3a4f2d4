"""``shopml batch predict``: a registered ``predict/<name>`` model over every row, to Parquet.

What a version holds decides the job:

- a task model of :mod:`shopml.predict.tasks` (``churn``, ``fraud``: a predictor and its
  calibrator): every row the task scores in the workspace (customers now, every order), or the
  rows of ``--input``, gets its id, raw and calibrated probability (and threshold and decision
  where the task has costs), as ``shopml predict`` gives them;
- a :class:`~shopml.predict.base.Predictor` (``model.json`` of format ``shopml.model/1``):
  every row of the ``rows`` Parquet file (features plus any id columns, which are passed
  through) gets ``probability`` (classifiers) or ``prediction`` (regressors);
- CLV (the ``clv`` capability, :func:`clv_batch_job`, ``shopml batch clv``): every customer
  with a completed order in the workspace gets P(alive), expected purchases, spend and CLV over
  the version's horizon. CLV pairs registered under ``predict/clv`` by older versions are
  refused with a message to retrain.

A new kind of predict model adds a branch in :func:`predict_job_for` that builds its
:class:`~shopml.distributed.batch.BatchJob`; both engines then run it unchanged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.core.persist import read_json
from shopml.distributed.batch import BatchJob, BatchResult, clv_job, predictor_job, run_batch
from shopml.registry import ModelVersion, Registry


def predict_job_for(
    registry: Registry,
    version: ModelVersion,
    workspace: str | Path | None = None,
    rows: str | Path | None = None,
    batch_size: int = 8192,
) -> BatchJob:
    """The batch job for one registered predict version (see the module docstring)."""
    registry.verify(version)
    config = version.meta.get("config") or {}
    if config.get("task") in ("churn", "fraud") and any(
        (version.path / f).exists() for f in ("calibrator", "calibrator.json")
    ):
        return _task_job(registry, version, config, workspace, rows, batch_size)
    model_json = version.path / "model.json"
    from shopml.predict.base import Predictor

    if model_json.exists() and _is_predictor(read_json(model_json), Predictor):

        if rows is None:
            raise ValidationError(
                f"predict/{version.name} is a {read_json(model_json).get('class')}: give the rows to "
                "score as a Parquet file of its features (--input FILE.parquet)"
            )
        return predictor_job(Predictor.load(version.path), rows, batch_size)
    if (version.meta.get("config") or {}).get("task") == "clv":
        raise ValidationError(
            f"predict/{version.name} {version.version} is a CLV model in the layout before CLV "
            "became its own capability: retrain it (`shopml train clv`) and use `shopml batch clv`"
        )
    raise ValidationError(
        f"predict/{version.name} {version.version} is neither a shopml Predictor nor a CLV model; "
        "no batch job knows it"
    )


def task_rows(loaded: Any, batch: pd.DataFrame) -> pd.DataFrame:
    """A task model's batch: the non-feature columns (ids) and :func:`score_task`'s columns
    (raw and calibrated probability; threshold and decision where the task has costs)."""
    from shopml.predict.tasks import score_task

    features = list(loaded.model.feature_names_)
    keep = batch[[c for c in batch.columns if c not in set(features)]].reset_index(drop=True)
    scores = score_task(loaded, batch[features].reset_index(drop=True))
    return pd.concat([keep, scores.reset_index(drop=True)], axis=1)


def _task_job(
    registry: Registry,
    version: ModelVersion,
    config: dict[str, Any],
    workspace: str | Path | None,
    rows: str | Path | None,
    batch_size: int,
) -> BatchJob:
    """A churn / fraud model of :mod:`shopml.predict.tasks`: the rows given, or (no ``rows``)
    every row the task scores in the workspace (customers now; every order)."""
    from shopml.predict.tasks import load_task, scoring_data, task_options

    loaded = load_task(registry, version)
    if rows is not None:
        job = predictor_job(loaded.model, rows, batch_size)
        return BatchJob("predict", job.rows, loaded, task_rows, batch_size, {"task": loaded.task})
    if workspace is None or not Path(workspace).exists():
        raise DataError(
            f"predict/{version.name} scores the workspace's rows; no workspace at {workspace}"
        )
    from shopml.data.workspace import Workspace

    with Workspace(workspace, read_only=True) as ws:
        ids, X = scoring_data(loaded.task, ws, task_options(loaded.task, config.get("options")))
    frame = X.reset_index(drop=True)
    frame.insert(0, str(config.get("entity", "id")), ids)
    return BatchJob("predict", frame, loaded, task_rows, batch_size, {"task": loaded.task})


def batch_predict(
    registry: str | Path | Registry,
    out: str | Path,
    model_name: str,
    version: str = "latest",
    workspace: str | Path | None = None,
    rows: str | Path | None = None,
    engine: str = "local",
    address: str | None = None,
    batch_size: int = 8192,
    concurrency: int | None = None,
) -> tuple[BatchResult, ModelVersion]:
    """Score every row (or customer) with the registered ``predict/<model_name>``, to Parquet."""
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    mv = reg.get("predict", model_name, version)
    job = predict_job_for(reg, mv, workspace=workspace, rows=rows, batch_size=batch_size)
    return run_batch(job, out, engine=engine, address=address, concurrency=concurrency), mv


def batch_job(
    registry: str | Path, workspace: str | Path | None, out: str | Path, engine: str = "local",
    model: str | None = None, **options: Any,
) -> Path:
    """The predict spec's ``batch``: every workspace row of the task ``model`` (churn, fraud,
    ...) scored to ``out`` (options: those of :func:`batch_predict`)."""
    if not model:
        raise ValidationError("name the registered predict model to score (--model churn, ...)")
    result, _ = batch_predict(registry, out, model, workspace=workspace, engine=engine, **options)
    return result.path


def clv_batch_job(
    registry: str | Path, workspace: str | Path | None, out: str | Path, engine: str = "local",
    model: str | None = None, version: str = "latest", batch_size: int = 8192,
    concurrency: int | None = None, address: str | None = None, **options: Any,
) -> Path:
    """The CLV spec's ``batch``: every customer's CLV (registered ``clv/<model>``, default the
    most recently registered) to ``out``, at the version's horizon and discount unless
    ``horizon_days`` / ``discount_rate`` are given."""
    from shopml.predict.clv import load_clv_model, workspace_orders

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    if model is None:
        found = [mv for mv in reg.list() if mv.capability == "clv"]
        if not found:
            raise DataError(f"no CLV model in {reg.root}; train one with `shopml train clv`")
        mv = max(found, key=lambda v: v.created)
    else:
        mv = reg.get("clv", model, version)
    reg.verify(mv)
    if workspace is None or not Path(workspace).exists():
        raise DataError(f"CLV needs a workspace with orders; none at {workspace}")
    job = clv_job(
        load_clv_model(mv), workspace_orders(workspace),
        float(options.pop("horizon_days", mv.config.get("horizon_days", 90.0))),
        float(options.pop("discount_rate", mv.config.get("discount_rate", 0.0))),
        batch_size,
    )
    if options:
        raise ValidationError(f"unknown CLV batch option(s) {sorted(options)}")
    return run_batch(job, out, engine=engine, address=address, concurrency=concurrency).path


__all__ = ["batch_job", "batch_predict", "clv_batch_job", "predict_job_for"]


def _is_predictor(doc: dict, predictor: type) -> bool:
    """Whether a ``model.json`` holds a Predictor (the estimator base's ``shopml.model/1``)."""
    from shopml.core.estimator import FORMAT, resolve_class

    if doc.get("format") != FORMAT:
        return False
    try:
        return issubclass(resolve_class(str(doc.get("class", "")), object), predictor)
    except ValidationError:
        return False
