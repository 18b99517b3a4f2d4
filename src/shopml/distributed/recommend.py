"""The recommend capability end to end on an engine: search, train, register, batch-score.

:func:`tune_train_register` is what ``shopml train recommend --engine ray`` runs: the model's
declared search space is searched on a temporal validation split of the workspace's
interactions (Ray Tune), the best configuration is fitted on all of them (with Ray Train when the
model supports data-parallel training and ``workers > 1``) and registered, with the search
recorded in the version's meta.json. :func:`batch_recommend` is ``shopml batch recommend``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from shopml.core.errors import DataError, ShopMLError, ValidationError
from shopml.distributed.batch import BatchResult, recommend_job, run_batch
from shopml.distributed.engine import check_engine, ray_session
from shopml.distributed.train import fit_data_parallel, supports_data_parallel
from shopml.distributed.tune import TuneResult, tune_recommender
from shopml.registry import ModelVersion, Registry


def tune_train_register(
    workspace: str | Path,
    registry: str | Path | Registry,
    model_name: str,
    params: dict[str, Any] | None = None,
    source: str = "auto",
    trials: int = 8,
    seed: int = 0,
    engine: str = "ray",
    address: str | None = None,
    workers: int = 1,
    storage_path: str | Path | None = None,
) -> tuple[ModelVersion, TuneResult | None]:
    """Search (``trials`` > 0), fit the best and register it as ``recommend/<model_name>``.

    ``params`` are fixed (not searched). With ``engine='ray'`` one Ray session serves the search
    and the training; ``workers > 1`` trains with Ray Train where the model allows it.
    """
    from shopml.data.workspace import Workspace
    from shopml.recommend.train import (
        ITEM_COLUMNS,
        load_interactions,
        model_class,
        train_and_register,
    )

    check_engine(engine, address)
    if workers > 1 and engine != "ray":
        raise ValidationError(f"--workers {workers} (data-parallel training) needs --engine ray")
    klass = model_class(model_name)
    if workers > 1 and not supports_data_parallel(klass):
        raise ValidationError(f"{model_name} has no data-parallel training step; use --workers 1")
    fixed = dict(params or {})
    if not Path(workspace).exists():
        raise DataError(f"no workspace at {workspace}")
    storage = str(Path(storage_path).resolve()) if storage_path is not None else None
    # one Ray session for the search and the training; none when neither runs on Ray
    on_ray = engine == "ray" and (trials > 0 or workers > 1)
    session = ray_session(address) if on_ray else _nothing()
    with session:
        result = None
        if trials > 0:
            with Workspace(workspace, read_only=True) as ws:
                frame, _ = load_interactions(ws, source)
                items = ws.df("items", columns=ITEM_COLUMNS)
            result = tune_recommender(
                model_name,
                frame,
                items if len(items) else None,
                num_samples=trials,
                seed=seed,
                engine=engine,
                address=address,
                fixed=fixed,
                storage_path=storage,
            )
            fixed = result.best_params
        fit = None
        if workers > 1:

            def fit(model, frame, items):  # noqa: ANN001 - the train_and_register hook
                return fit_data_parallel(
                    model, frame, items, num_workers=workers, address=address, storage_path=storage
                )

        extra_config: dict[str, Any] = {"engine": engine}
        extra_metrics: dict[str, Any] = {}
        if result is not None:
            extra_config["tune"] = {**result.summary(), "trials": _json_trials(result)}
            extra_metrics[f"val_{result.metric}"] = round(result.best_score, 6)
        if fit is not None:
            extra_config["train"] = {"engine": "ray-train", "workers": workers}
        mv = train_and_register(
            workspace,
            registry,
            model_name,
            fixed,
            source=source,
            fit=fit,
            extra_config=extra_config,
            extra_metrics=extra_metrics,
        )
    return mv, result


def _json_trials(result: TuneResult) -> list[dict[str, Any]]:
    return [
        {
            "params": t["params"],
            "score": None if not np.isfinite(t["score"]) else round(float(t["score"]), 6),
            "error": t.get("error"),
        }
        for t in result.trials
    ]


class _nothing:
    """A do-nothing context (the local engine needs no session)."""

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def batch_recommend(
    registry: str | Path | Registry,
    out: str | Path,
    model_name: str | None = None,
    version: str = "latest",
    k: int = 10,
    exclude_seen: bool = True,
    users: list[str] | np.ndarray | None = None,
    engine: str = "local",
    address: str | None = None,
    batch_size: int | None = None,
    concurrency: int | None = None,
    unknown: str = "error",
) -> tuple[BatchResult, ModelVersion]:
    """Top-``k`` for every user of a registered recommender (or ``users``), to Parquet.

    ``model_name=None`` takes the most recently registered recommender; ``unknown='popular'``
    answers users the model has not seen (see :func:`~shopml.distributed.batch.recommend_job`).
    """
    from shopml.recommend.base import Recommender

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    if model_name is None:
        recs = [m for m in reg.list() if m.capability == "recommend"]
        if not recs:
            raise ShopMLError(
                f"no recommender in registry {reg.root}; run `shopml train recommend` first"
            )
        mv = max(recs, key=lambda m: m.created or "")
    else:
        mv = reg.get("recommend", model_name, version)
    model = Recommender.load(reg.verify(mv).path)
    job = recommend_job(
        model, k=k, exclude_seen=exclude_seen, users=users, batch_size=batch_size, unknown=unknown
    )
    job.info.update({"registry_model": mv.name, "version": mv.version})
    return run_batch(job, out, engine=engine, address=address, concurrency=concurrency), mv


__all__ = ["batch_recommend", "tune_train_register"]


def batch_job(
    registry: str | Path, workspace: str | Path | None, out: str | Path, engine: str = "local",
    model: str | None = None, **options: Any,
) -> Path:
    """The recommend spec's ``batch``: top-k lists for every user the model knows, to ``out``
    (options: those of :func:`batch_recommend`)."""
    result, _ = batch_recommend(registry, out, model_name=model, engine=engine, **options)
    return result.path
