"""Data-parallel training of the torch models with Ray Train (DistributedDataParallel).

:func:`fit_data_parallel` serves every model that exposes its training step through one small
interface (SASRec and every :class:`~shopml.predict.torch_train.TorchPredictor`: DeepFM, DCN-v2):

- ``fit(..., epochs=0)`` builds the data, ``module_`` and its seeded initial weights exactly as a
  single-process fit does; ``_hold_training_data(*data, **fit_kwargs)`` (optional) keeps what the
  step reads when ``fit`` does not (the predictors' feature tensors), ``_release_training_data()``
  drops it afterwards;
- ``_train_batches(rng) -> list[ndarray]``: one epoch's batches (row indices), in order;
- ``_batch_loss(net, rows, rng) -> (loss, n)``: the loss of one batch through ``net``
  (``module_`` or its DDP wrapper) and the count it averages;
- ``_make_optimizer()``: the optimizer on ``module_``'s parameters.

The run:

1. on the driver, the model is fitted with ``epochs=0`` and holds its training data;
2. each worker takes that model from the object store, wraps its network in DDP
   (``ray.train.torch.prepare_model``; gloo on CPU, NCCL on GPUs) and runs the model's own
   step on its shard: every epoch all workers draw the same batch schedule (one shared, seeded
   order) and worker ``r`` of ``W`` takes batches ``r, r + W, ...``; gradients are averaged by
   DDP after every step, so one step sees ``W`` batches;
3. rank 0 reports the final weights as a checkpoint, which the driver loads into the model.

The effective batch is ``W × batch_size`` and each epoch makes ``1 / W`` as many steps; the last
``len(batches) mod W`` batches of an epoch are skipped so that every worker makes the same
number of steps (DDP's collectives need that). Early stopping is not applied: all ``epochs``
run on all rows given (a predictor's ``patience`` and validation slice are ignored; pick
``epochs`` from a local run's ``best_epoch_``). The result is an ordinary fitted model:
``save``/``load``/``recommend``/``predict_proba`` work as after ``fit``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from shopml.core.errors import ShopMLError, ValidationError
from shopml.distributed.engine import check_engine, ray_session

WEIGHTS_FILE = "weights.npz"
STEP_METHODS = ("_train_batches", "_batch_loss", "_make_optimizer", "_build_module")


def supports_data_parallel(model: Any) -> bool:
    """Whether ``model`` (an instance or a class) exposes the training step this module needs."""
    return all(callable(getattr(model, m, None)) for m in STEP_METHODS)


def fit_data_parallel(
    model: Any,
    *data: Any,
    num_workers: int = 2,
    use_gpu: bool = False,
    address: str | None = None,
    storage_path: str | Path | None = None,
    **fit_kwargs: Any,
) -> Any:
    """Train ``model`` (unfitted) with Ray Train on ``num_workers`` workers.

    ``data`` and ``fit_kwargs`` are what ``model.fit`` takes: ``(interactions, items)`` for
    SASRec, ``(X, y)`` and optionally ``sample_weight=`` for a torch predictor. Returns a fitted
    model of the same class and parameters, with ``loss_history_`` (rank 0's mean loss per
    epoch; a predictor's ``history_`` too) and ``train_info_`` (workers, steps, seconds).
    """
    if not supports_data_parallel(model):
        raise ValidationError(
            f"{type(model).__name__} does not expose a training step (_batch_loss) for data-parallel training"
        )
    if not isinstance(num_workers, (int, np.integer)) or num_workers < 1:
        raise ValidationError(f"num_workers must be a positive integer, got {num_workers!r}")
    params = model.get_params()
    epochs = int(params["epochs"])
    seed = int(params.get("seed", 0))
    # the driver builds data and initial weights exactly as fit() does, without training
    prepared = type(model)(**{**params, "epochs": 0}).fit(*data, **fit_kwargs)
    prepared.epochs = params["epochs"]
    hold = getattr(prepared, "_hold_training_data", None)
    if hold is not None:
        hold(*data, **fit_kwargs)
    try:
        if not prepared._train_batches(np.random.default_rng(seed)):
            raise ValidationError(
                f"{type(model).__name__}: nothing to train on (a sequence model needs users with "
                "two interactions)"
            )
        t0 = time.perf_counter()
        result = _run(prepared, epochs, seed, num_workers, use_gpu, address, storage_path)
    finally:
        release = getattr(prepared, "_release_training_data", None)
        if release is not None:
            release()
    from shopml.core.torch_common import numpy_to_module

    with (
        result.checkpoint.as_directory() as folder,
        np.load(Path(folder) / WEIGHTS_FILE, allow_pickle=False) as z,
    ):
        numpy_to_module(prepared.module_, {k: z[k] for k in z.files}, prefix="")
    prepared.module_.eval()
    metrics = result.metrics or {}
    history = [{"epoch": i, "loss": float(v)} for i, v in enumerate(metrics.get("losses", []))]
    prepared.loss_history_ = history
    if hasattr(prepared, "_cache_"):  # SASRec caches item embeddings of the old weights
        prepared._cache_ = {}
    if hasattr(prepared, "best_epoch_"):  # a predictor: its saved meta records the epochs
        prepared.history_ = [{"epoch": float(r["epoch"]), "loss": r["loss"]} for r in history]
        prepared.best_epoch_ = len(history) - 1
    prepared.train_info_ = {
        "engine": "ray-train",
        "workers": int(num_workers),
        "steps_per_epoch": int(metrics.get("steps_per_epoch", 0)),
        "seconds": round(time.perf_counter() - t0, 2),
    }
    return prepared


def predictor_fit(
    engine: str = "local",
    address: str | None = None,
    workers: int = 1,
    storage_path: str | Path | None = None,
) -> Callable[..., Any] | None:
    """The ``fit(model, X, y) -> fitted`` hook of :func:`shopml.predict.tasks.train_task` for
    ``--engine``/``--address``/``--workers``: ``None`` for a local fit, else Ray Train with
    ``workers`` workers (``1``: one worker on the cluster). Raises for a model without the step."""
    check_engine(engine, address)
    if not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValidationError(f"--workers must be a positive integer, got {workers!r}")
    if engine == "local":
        if workers > 1:
            raise ValidationError(f"--workers {workers} (data-parallel training) needs --engine ray")
        return None

    def fit(model: Any, X: Any, y: Any) -> Any:
        if not supports_data_parallel(model):
            raise ValidationError(
                f"{type(model).__name__} has no data-parallel training step: --engine ray trains "
                "the torch models (mlp, deepfm, dcn, gru)"
            )
        return fit_data_parallel(
            model, X, y, num_workers=int(workers), address=address, storage_path=storage_path
        )

    return fit


def _run(
    prepared: Any,
    epochs: int,
    seed: int,
    num_workers: int,
    use_gpu: bool,
    address: str | None,
    storage_path: str | Path | None,
) -> Any:
    """Ray Train's result (final metrics and rank 0's checkpoint) for ``prepared``."""
    from ray.train import CheckpointConfig, RunConfig, ScalingConfig
    from ray.train.torch import TorchTrainer

    name = type(prepared).__name__
    with ray_session(address) as ray:
        trainer = TorchTrainer(
            _train_loop,
            train_loop_config={"model": ray.put(prepared), "epochs": epochs, "seed": seed},
            scaling_config=ScalingConfig(num_workers=int(num_workers), use_gpu=use_gpu),
            run_config=RunConfig(
                name=f"shopml-{name.lower()}",
                storage_path=str(storage_path) if storage_path is not None else None,
                checkpoint_config=CheckpointConfig(num_to_keep=1),
            ),
        )
        try:
            result = trainer.fit()
        except Exception as exc:  # Ray wraps worker failures in its own error types
            raise ShopMLError(f"Ray Train failed for {name}: {exc}") from exc
    if result.checkpoint is None:
        raise ShopMLError(f"Ray Train finished without a checkpoint for {name}")
    return result


def _train_loop(config: dict[str, Any]) -> None:
    """One Ray Train worker: DDP around the model's network, the model's own step on a shard."""
    import ray
    import ray.train
    import ray.train.torch
    import torch

    from shopml.core.torch_common import module_to_numpy

    ref = config["model"]
    model = ray.get(ref) if isinstance(ref, ray.ObjectRef) else ref
    ctx = ray.train.get_context()
    rank, world = ctx.get_world_rank(), ctx.get_world_size()
    torch.set_num_threads(1)
    torch.manual_seed(config["seed"])  # dropout draws; weights come identical from the driver
    model.device_ = ray.train.torch.get_device()
    model.module_.to(model.device_).train()
    net = ray.train.torch.prepare_model(model.module_)
    optimizer = model._make_optimizer()  # on model.module_'s parameters, which DDP shares
    losses: list[float] = []
    steps = 0
    for epoch in range(int(config["epochs"])):
        # every worker draws the same batch schedule; its own draws (negatives) differ per worker
        batches = model._train_batches(np.random.default_rng([config["seed"], epoch]))
        steps = max(1, len(batches) // world)
        mine = [batches[(rank + world * s) % len(batches)] for s in range(steps)]
        step_rng = np.random.default_rng([config["seed"], epoch, rank])
        total, count = 0.0, 0
        for rows in mine:
            loss, n = model._batch_loss(net, rows, step_rng)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * n
            count += n
        losses.append(total / max(count, 1))
    metrics = {"losses": losses, "steps_per_epoch": steps}
    if rank == 0:
        with tempfile.TemporaryDirectory() as folder:
            arrays = module_to_numpy(model.module_, prefix="")
            np.savez(Path(folder) / WEIGHTS_FILE, **arrays)
            ray.train.report(metrics, checkpoint=ray.train.Checkpoint.from_directory(folder))
    else:
        ray.train.report(metrics)


__all__ = ["STEP_METHODS", "fit_data_parallel", "predictor_fit", "supports_data_parallel"]
