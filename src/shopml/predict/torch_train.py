"""What the torch predictors share: devices, seeding, the batched training loop (BCE or MSE, L2,
early stopping on a validation slice, progress bar), batched inference, weights <-> NumPy
arrays (saved in ``arrays.npz`` by the estimator base), and gradient×input / occlusion attributions.

:class:`TorchPredictor` is the template (a :class:`shopml.predict.base.Predictor`). A subclass:

- defines ``__init__`` storing its hyper-parameters, including at least ``epochs``,
  ``batch_size``, ``lr``, ``weight_decay`` (L2), ``patience`` (``None``: no early stopping),
  ``validation_fraction`` (the last rows used for early stopping when no ``eval_set`` is given),
  ``seed`` and ``device``;
- implements ``_build_module() -> nn.Module`` whose ``forward(**inputs)`` returns logits (or
  values for a regressor) of shape ``(batch,)``. Sizes come from ``self.encoder_``:
  ``len(self.encoder_.numeric_names)`` numeric inputs and ``self.encoder_.cardinalities``
  (embedding table sizes, code 0 = unseen) for the categorical ones;
- optionally overrides ``_inputs(X) -> dict[str, ndarray]`` (default: ``numeric`` float32
  ``(n, d)`` and ``categorical`` int64 ``(n, c)`` from the encoder), e.g. to add padded event
  sequences; every array's first axis is the row. A model with other inputs than these two
  should also override ``_explain`` (the default attributes ``numeric`` and ``categorical``);
- optionally overrides ``_extra_state`` / ``_load_extra_state`` for non-weight arrays that
  ``_build_module`` needs after ``load``.

Example (a logistic model as a torch module)::

    class TinyLogit(TorchPredictor):
        def __init__(self, epochs=5, batch_size=256, lr=1e-2, weight_decay=0.0, patience=None,
                     validation_fraction=0.1, seed=0, device="cpu"):
            ...store each...
        def _build_module(self):
            return LinearLogit(len(self.encoder_.numeric_names), self.encoder_.cardinalities)
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from typing import Any

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn

from shopml.core.errors import ValidationError
from shopml.core.progress import make_progress
from shopml.core.torch_common import module_to_numpy, numpy_to_module, resolve_device, seeded
from shopml.predict.base import Predictor, time_ordered_validation

Inputs = dict[str, np.ndarray]


def to_tensors(inputs: Inputs, device: torch.device) -> dict[str, torch.Tensor]:
    """NumPy inputs as tensors on ``device`` (float arrays as float32, integers as int64)."""
    out = {}
    for k, v in inputs.items():
        a = np.asarray(v)
        t = torch.from_numpy(np.ascontiguousarray(a.astype(np.float32 if a.dtype.kind == "f" else np.int64)))
        out[k] = t.to(device)
    return out


def _rows(inputs: dict[str, torch.Tensor], idx: torch.Tensor) -> dict[str, torch.Tensor]:
    return {k: v[idx] for k, v in inputs.items()}


def forward_batched(
    module: nn.Module, inputs: dict[str, torch.Tensor], batch_size: int = 8192
) -> torch.Tensor:
    """Outputs of ``module`` over all rows, in batches, without gradients (eval mode)."""
    n = next(iter(inputs.values())).shape[0]
    module.eval()
    outs = []
    with torch.no_grad():
        for s in range(0, n, batch_size):
            idx = torch.arange(s, min(n, s + batch_size), device=next(iter(inputs.values())).device)
            outs.append(module(**_rows(inputs, idx)).reshape(-1).float())
    return torch.cat(outs) if outs else torch.empty(0)


def _loss(out: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None, kind: str) -> torch.Tensor:
    if kind == "bce":
        per = F.binary_cross_entropy_with_logits(out, y, reduction="none")
    else:
        per = (out - y) ** 2
    if w is None:
        return per.mean()
    return (per * w).sum() / w.sum().clamp_min(1e-12)


def train_loop(
    module: nn.Module,
    inputs: dict[str, torch.Tensor],
    y: torch.Tensor,
    *,
    weight: torch.Tensor | None = None,
    val: tuple[dict[str, torch.Tensor], torch.Tensor] | None = None,
    epochs: int = 20,
    batch_size: int = 1024,
    lr: float = 1e-3,
    weight_decay: float = 0.0,
    patience: int | None = None,
    loss: str = "bce",
    rng: np.random.Generator | None = None,
    description: str = "training",
) -> list[dict[str, float]]:
    """Minibatch Adam on ``loss`` (``'bce'`` on logits or ``'mse'``) with L2 ``weight_decay``.

    After each epoch the validation loss is measured on ``val`` when given; with ``patience``
    training stops once it has not improved for ``patience`` epochs, and the best epoch's
    weights are restored. Returns one record per epoch (``loss``, ``val_loss``).
    """
    if loss not in ("bce", "mse"):
        raise ValidationError(f"loss={loss!r}; expected 'bce' or 'mse'")
    if int(epochs) < 0 or int(batch_size) < 1:
        raise ValidationError(f"epochs must be >= 0 and batch_size >= 1, got {epochs}, {batch_size}")
    rng = rng or np.random.default_rng(0)
    n = y.shape[0]
    device = y.device
    opt = torch.optim.Adam(module.parameters(), lr=lr, weight_decay=weight_decay)
    history: list[dict[str, float]] = []
    best, best_state, stale = np.inf, None, 0
    with make_progress(transient=True) as progress:
        task = progress.add_task(description, total=int(epochs))
        for epoch in range(int(epochs)):
            module.train()
            order = torch.from_numpy(rng.permutation(n)).to(device)
            total, seen = 0.0, 0
            for s in range(0, n, int(batch_size)):
                idx = order[s : s + int(batch_size)]
                out = module(**_rows(inputs, idx)).reshape(-1)
                value = _loss(out, y[idx], None if weight is None else weight[idx], loss)
                opt.zero_grad(set_to_none=True)
                value.backward()
                opt.step()
                total += float(value.detach()) * len(idx)
                seen += len(idx)
            record = {"epoch": float(epoch), "loss": total / max(seen, 1)}
            if val is not None:
                with torch.no_grad():
                    vout = forward_batched(module, val[0])
                    record["val_loss"] = float(_loss(vout, val[1], None, loss))
            history.append(record)
            progress.update(task, advance=1, description=f"{description} loss={record['loss']:.4f}")
            if val is None or patience is None:
                continue
            if record["val_loss"] < best - 1e-7:
                best, stale = record["val_loss"], 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                stale += 1
                if stale >= int(patience):
                    break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


class TorchPredictor(Predictor):
    """Template for the torch predictors; see the module docstring."""

    #: 'bce' for classifiers; a regressor subclass sets is_classifier=False and loss='mse'
    loss: str = "bce"

    # hooks ---------------------------------------------------------------
    @abstractmethod
    def _build_module(self) -> nn.Module:
        """The network, sized from the fitted encoder."""

    def _inputs(self, X: pd.DataFrame) -> Inputs:
        enc = self.encoder_.transform(X)
        return {"numeric": enc.numeric, "categorical": enc.categorical}

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def _load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_extra_state`` returned (keys without the ``extra.`` prefix)."""

    # shared mechanics ------------------------------------------------------
    def _fit(self, X, y, sample_weight, eval_set) -> None:
        self.device_ = resolve_device(getattr(self, "device", "cpu"))
        patience = getattr(self, "patience", None)
        if eval_set is not None:
            Xtr, ytr, wtr = X, y, sample_weight
            Xv, yv = eval_set
        elif patience is not None:
            tr, va = time_ordered_validation(len(X), float(getattr(self, "validation_fraction", 0.1)))
            Xtr, ytr = X.iloc[tr], y[tr]
            wtr = None if sample_weight is None else sample_weight[tr]
            Xv, yv = X.iloc[va], y[va]
        else:
            Xtr, ytr, wtr, Xv, yv = X, y, sample_weight, None, None
        with seeded(int(getattr(self, "seed", 0)), self.device_) as rng:
            self.module_ = self._build_module().to(self.device_)
            inputs = to_tensors(self._inputs(Xtr), self.device_)
            yt = torch.as_tensor(ytr, dtype=torch.float32, device=self.device_)
            wt = None if wtr is None else torch.as_tensor(wtr, dtype=torch.float32, device=self.device_)
            val = None
            if Xv is not None:
                val = (to_tensors(self._inputs(Xv), self.device_), torch.as_tensor(yv, dtype=torch.float32, device=self.device_))
            self.history_ = train_loop(
                self.module_,
                inputs,
                yt,
                weight=wt,
                val=val,
                epochs=int(self.epochs),
                batch_size=int(self.batch_size),
                lr=float(self.lr),
                weight_decay=float(getattr(self, "weight_decay", 0.0)),
                patience=patience,
                loss=self.loss,
                rng=rng,
                description=type(self).__name__,
            )
        if val is not None and patience is not None and self.history_:
            self.best_epoch_ = int(np.argmin([h["val_loss"] for h in self.history_]))
        else:
            self.best_epoch_ = len(self.history_) - 1

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        inputs = to_tensors(self._inputs(X), self.device_)
        return forward_batched(self.module_, inputs).cpu().numpy().astype(np.float64)

    def _predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-self._raw(X)))

    def _predict(self, X: pd.DataFrame) -> np.ndarray:
        return self._raw(X)

    def _explain(self, X: pd.DataFrame) -> np.ndarray:
        """Gradient×input for numeric inputs (baseline: the training mean, i.e. 0 after
        standardisation) and occlusion for categorical ones (output drop when the code is set to
        the unseen bucket); ``bias`` is the output at the all-baseline row. On the raw scale."""
        raw = self._inputs(X)
        if set(raw) - {"numeric", "categorical"}:
            raise NotImplementedError(f"{type(self).__name__} has inputs {sorted(raw)}: override _explain")
        enc = self.encoder_
        n = len(X)
        out = np.zeros((n, len(self.feature_names_) + 1))
        inputs = to_tensors(raw, self.device_)
        self.module_.eval()
        num = inputs["numeric"].clone().requires_grad_(True)
        with torch.enable_grad():
            for s in range(0, n, 8192):
                sl = slice(s, min(n, s + 8192))
                o = self.module_(numeric=num[sl], categorical=inputs["categorical"][sl]).sum()
                o.backward()
        gxi = (num.grad * num.detach()).cpu().numpy().astype(np.float64)
        owners = list(range(len(enc.numeric_))) + [enc.numeric_.index(c) for c in enc.missing_indicators_]
        for j, col in enumerate(owners):
            out[:, self.feature_names_.index(enc.numeric_[col])] += gxi[:, j]
        base_out = self._raw(X)
        for j, c in enumerate(enc.categorical_):
            occl = dict(raw)
            occl["categorical"] = raw["categorical"].copy()
            occl["categorical"][:, j] = 0
            drop = base_out - forward_batched(self.module_, to_tensors(occl, self.device_)).cpu().numpy()
            out[:, self.feature_names_.index(c)] = drop
        baseline = {"numeric": np.zeros((1, raw["numeric"].shape[1]), np.float32), "categorical": np.zeros((1, raw["categorical"].shape[1]), np.int64)}
        out[:, -1] = float(forward_batched(self.module_, to_tensors(baseline, self.device_)).cpu().numpy()[0])
        return out

    def _get_state(self) -> dict[str, np.ndarray]:
        state = module_to_numpy(self.module_)
        state.update({"extra." + k: np.asarray(v) for k, v in self._extra_state().items()})
        return state

    def _meta(self) -> dict[str, Any]:
        return {"history": self.history_, "best_epoch": self.best_epoch_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self.device_ = resolve_device(getattr(self, "device", "cpu"))
        self._load_extra_state({k[len("extra.") :]: v for k, v in arrays.items() if k.startswith("extra.")})
        self.module_ = numpy_to_module(self._build_module(), arrays).to(self.device_).eval()
        self.history_ = list(meta.get("history", []))
        self.best_epoch_ = meta.get("best_epoch")

    # data-parallel training (shopml.distributed.train) ----------------------
    # The same step as train_loop, cut so that Ray Train workers can each run it on a shard:
    # the driver fits with epochs=0 (encoder, seeded initial weights), then holds the rows here.
    def _hold_training_data(self, X: pd.DataFrame, y: Any, sample_weight: Any = None, **_: Any) -> None:
        """Keep ``X``'s inputs, targets and weights (CPU tensors) for :meth:`_batch_loss`."""
        from shopml.predict.base import check_target, check_weight

        X = self._checked(X)
        w = check_weight(sample_weight, len(X))
        self._train_data_ = (
            to_tensors(self._inputs(X), torch.device("cpu")),
            torch.as_tensor(check_target(y, len(X), self.is_classifier), dtype=torch.float32),
            None if w is None else torch.as_tensor(w, dtype=torch.float32),
        )

    def _release_training_data(self) -> None:
        self.__dict__.pop("_train_data_", None)

    def _train_batches(self, rng: np.random.Generator) -> list[np.ndarray]:
        """One epoch's minibatches (row indices) in a shuffled order drawn from ``rng``."""
        n, bs = int(self._train_data_[1].shape[0]), int(self.batch_size)
        order = rng.permutation(n)
        return [order[s : s + bs] for s in range(0, n, bs)]

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(
            self.module_.parameters(), lr=float(self.lr), weight_decay=float(getattr(self, "weight_decay", 0.0))
        )

    def _batch_loss(self, net: nn.Module, rows: np.ndarray, rng: np.random.Generator) -> tuple[torch.Tensor, int]:
        """Loss on the held rows ``rows`` through ``net`` (``self.module_`` or a DDP wrapper of it)."""
        inputs, y, w = self._train_data_
        idx = torch.as_tensor(rows, dtype=torch.long)
        out = net(**{k: v.to(self.device_) for k, v in _rows(inputs, idx).items()}).reshape(-1)
        weight = None if w is None else w[idx].to(self.device_)
        return _loss(out, y[idx].to(self.device_), weight, self.loss), len(rows)


__all__ = [
    "Inputs",
    "TorchPredictor",
    "forward_batched",
    "to_tensors",
    "train_loop",
]
