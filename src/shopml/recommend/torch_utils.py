"""What the torch recommenders share: seeding, devices, minibatches, negative sampling, the
training loop with early stopping, fold-in of unseen users, and weights <-> numpy for ``save``.

:class:`TorchRecommender` ties these together as a template: a subclass builds its network
(``_build_module``), prepares its training data (``_prepare``), runs one epoch (``_train_epoch``)
and scores (``_score``); seeding, the epoch loop, progress bars, early stopping and persistence
of the weights live here once.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import nn

from shopml.core.errors import ValidationError
from shopml.core.progress import make_progress

# seeding, devices and weights <-> numpy are shared with the torch predictors (shopml.core); they
# stay importable from here for the recommenders and shopml.distributed
from shopml.core.torch_common import module_to_numpy, numpy_to_module, resolve_device, seeded
from shopml.recommend.base import Recommender
from shopml.recommend.interactions import Interactions

# ----------------------------------------------------------------------------- batches


def minibatches(
    n: int, batch_size: int, rng: np.random.Generator | None = None
) -> Iterator[np.ndarray]:
    """Index arrays covering ``0..n-1`` in batches; shuffled when ``rng`` is given."""
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1, got {batch_size}")
    order = rng.permutation(n) if rng is not None else np.arange(n)
    for start in range(0, n, batch_size):
        yield order[start : start + batch_size]


def length_buckets(
    lengths: np.ndarray, batch_size: int, rng: np.random.Generator
) -> Iterator[np.ndarray]:
    """Batches of indices with similar ``lengths``, in random order.

    Rows are sorted by length (ties broken at random) and cut into batches, whose order is then
    shuffled: a batch of short sequences is then not padded to the longest of the data set.
    """
    if batch_size < 1:
        raise ValidationError(f"batch_size must be >= 1, got {batch_size}")
    order = np.lexsort((rng.random(len(lengths)), lengths))
    batches = [order[s : s + batch_size] for s in range(0, len(order), batch_size)]
    for i in rng.permutation(len(batches)):
        yield batches[i]


def pad_sequences(seqs: list[np.ndarray], max_len: int, offset: int = 1) -> np.ndarray:
    """Right-aligned ``(len(seqs), max_len)`` int64 matrix of the last ``max_len`` items of each
    sequence, shifted by ``offset`` so that 0 stays free for padding."""
    lens = np.fromiter((len(s) for s in seqs), dtype=np.int64, count=len(seqs))
    out = np.zeros((len(seqs), max_len), dtype=np.int64)
    if lens.sum() == 0:
        return out
    flat = np.concatenate([np.asarray(s, dtype=np.int64) for s in seqs])
    starts = np.repeat(np.cumsum(lens) - lens, lens)
    pos_from_end = np.repeat(lens, lens) - (np.arange(len(flat)) - starts)  # 1 = last item
    rows = np.repeat(np.arange(len(seqs)), lens)
    keep = pos_from_end <= max_len
    out[rows[keep], max_len - pos_from_end[keep]] = flat[keep] + offset
    return out


# ----------------------------------------------------------------------------- negatives


class PositiveSet:
    """Membership test for (row, item) pairs, vectorised with a sorted array of keys."""

    def __init__(self, X: sp.csr_matrix) -> None:
        X = X.tocsr()
        self.n_items = X.shape[1]
        rows = np.repeat(np.arange(X.shape[0], dtype=np.int64), np.diff(X.indptr))
        self._keys = np.unique(rows * self.n_items + X.indices.astype(np.int64))

    def contains(self, rows: np.ndarray, items: np.ndarray) -> np.ndarray:
        """Boolean array (shape of ``items``): is ``items`` a positive of the matching ``rows``?"""
        if len(self._keys) == 0:
            return np.zeros(np.shape(items), dtype=bool)
        keys = np.asarray(rows, dtype=np.int64) * self.n_items + np.asarray(items, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self._keys, keys), len(self._keys) - 1)
        return self._keys[pos] == keys


def sample_negatives(
    rng: np.random.Generator,
    rows: np.ndarray,
    n_items: int,
    n_neg: int = 1,
    positives: PositiveSet | None = None,
    rounds: int = 20,
) -> np.ndarray:
    """Uniform negatives, shape ``(len(rows), n_neg)``.

    With ``positives``, draws that hit one of the row's positives are redrawn, up to ``rounds``
    times; each round redraws only the collisions, so it is cheap, and collisions survive only
    for rows that hold nearly the whole catalogue.
    """
    neg = rng.integers(0, n_items, size=(len(rows), n_neg))
    if positives is None:
        return neg
    r = np.broadcast_to(np.asarray(rows)[:, None], neg.shape)
    for _ in range(rounds):
        bad = positives.contains(r, neg)
        if not bad.any():
            break
        neg[bad] = rng.integers(0, n_items, size=int(bad.sum()))
    return neg


# ----------------------------------------------------------------------------- training loop

EpochCallback = Callable[[Recommender, int], "float | None"]


def train_epochs(
    epoch_fn: Callable[[int], float],
    epochs: int,
    module: nn.Module,
    description: str = "training",
    callback: Callable[[int], float | None] | None = None,
    patience: int | None = None,
) -> list[dict[str, float]]:
    """Run ``epoch_fn(epoch) -> mean loss`` for up to ``epochs`` epochs with a progress bar.

    After each epoch ``callback(epoch)`` (module in eval mode) may return a validation score,
    higher is better. With ``patience`` set, training stops once the score has not improved for
    ``patience`` epochs and the best weights are restored. Returns one record per epoch.
    """
    if epochs < 0:
        raise ValidationError(f"epochs must be >= 0, got {epochs}")
    history: list[dict[str, float]] = []
    best_score, best_state, stale = -np.inf, None, 0
    with make_progress(transient=True) as progress:
        task = progress.add_task(description, total=epochs)
        for epoch in range(epochs):
            module.train()
            loss = float(epoch_fn(epoch))
            record = {"epoch": epoch, "loss": loss}
            module.eval()
            score = callback(epoch) if callback is not None else None
            if score is not None:
                record["score"] = float(score)
            history.append(record)
            progress.update(task, advance=1, description=f"{description} loss={loss:.4f}")
            if score is None or patience is None:
                continue
            if score > best_score:
                best_score, stale = float(score), 0
                best_state = copy.deepcopy(module.state_dict())
            else:
                stale += 1
                if stale >= patience:
                    break
    if best_state is not None:
        module.load_state_dict(best_state)
    module.eval()
    return history


# ----------------------------------------------------------------------------- fold-in


def fold_in(
    init: list[torch.Tensor],
    pair_scores: Callable[[list[torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor],
    histories: sp.csr_matrix,
    loss: str,
    steps: int,
    lr: float,
    l2: float,
    n_neg: int,
    seed: int,
    frozen: nn.Module | None = None,
) -> list[torch.Tensor]:
    """Learn user parameters for unseen users from their histories, items frozen.

    The user parameters (``init``, each ``(n_rows, d)``) are optimised with Adam on the model's
    own training loss — ``'bpr'`` (positive over sampled negative) or ``'bce'`` (positive 1,
    negatives 0) — over every (row, history item) pair and ``n_neg`` uniform negatives per pair,
    exactly what training would have done for these users with the item side fixed. Negatives
    come from a generator seeded with ``seed``, so the same history always gets the same vector.
    ``pair_scores(params, rows, items)`` scores pairs (``rows`` index ``params``); the weights of
    ``frozen`` (the model) get no gradients meanwhile, which would cost a full backward pass.
    """
    if loss not in ("bpr", "bce"):
        raise ValidationError(f"fold-in loss={loss!r}; expected 'bpr' or 'bce'")
    H = histories.tocsr()
    rows_np = np.repeat(np.arange(H.shape[0]), np.diff(H.indptr))
    if len(rows_np) == 0 or steps == 0:
        return [p.detach() for p in init]
    items = torch.as_tensor(H.indices.astype(np.int64), device=init[0].device)
    params = [p.detach().clone().requires_grad_(True) for p in init]
    weights = list(frozen.parameters()) if frozen is not None else []
    flags = [w.requires_grad for w in weights]
    try:
        for w in weights:
            w.requires_grad_(False)
        _fold_in_steps(params, pair_scores, H, rows_np, items, loss, steps, lr, l2, n_neg, seed)
    finally:
        for w, flag in zip(weights, flags, strict=True):
            w.requires_grad_(flag)
    return [p.detach() for p in params]


def _fold_in_steps(
    params: list[torch.Tensor],
    pair_scores: Callable[[list[torch.Tensor], torch.Tensor, torch.Tensor], torch.Tensor],
    H: sp.csr_matrix,
    rows_np: np.ndarray,
    items: torch.Tensor,
    loss: str,
    steps: int,
    lr: float,
    l2: float,
    n_neg: int,
    seed: int,
) -> None:
    """The optimisation loop of :func:`fold_in` (updates ``params`` in place)."""
    device = items.device
    rng = np.random.default_rng(seed)
    positives = PositiveSet(H)
    rows = torch.as_tensor(rows_np, device=device)
    rows_rep = rows.repeat_interleave(n_neg)
    opt = torch.optim.Adam(params, lr=lr)
    with torch.enable_grad():  # callers score under no_grad
        for _ in range(steps):
            neg = sample_negatives(rng, rows_np, H.shape[1], n_neg, positives).ravel()
            pos_s = pair_scores(params, rows, items)
            neg_s = pair_scores(params, rows_rep, torch.as_tensor(neg, device=device)).view(
                -1, n_neg
            )
            if loss == "bpr":
                value = -F.logsigmoid(pos_s[:, None] - neg_s).mean()
            else:
                value = F.softplus(-pos_s).mean() + F.softplus(neg_s).mean()
            value = value + l2 * sum((p**2).sum(dim=1).mean() for p in params)
            opt.zero_grad()
            value.backward()
            opt.step()


# ----------------------------------------------------------------------------- template


class TorchRecommender(Recommender):
    """Template for the torch recommenders (see the module docstring).

    Subclasses define ``__init__`` with at least ``epochs``, ``seed``, ``device`` and
    ``patience`` and implement ``_build_module``, ``_prepare``, ``_train_epoch`` and ``_score``;
    ``_extra_state`` / ``_load_extra_state`` carry non-weight arrays (vocabularies, features)
    that ``_build_module`` needs after ``load``.
    """

    _epoch_callback: EpochCallback | None = None

    def set_epoch_callback(self, callback: EpochCallback | None) -> TorchRecommender:
        """Call ``callback(model, epoch)`` after each training epoch (weights in eval mode).

        It may return a validation score (higher is better) that drives early stopping when the
        model's ``patience`` is set; the best epoch's weights are kept.
        """
        self._epoch_callback = callback
        return self

    # hooks ---------------------------------------------------------------
    @abstractmethod
    def _build_module(self) -> nn.Module:
        """The network, sized from the training data."""

    def _prepare(self, X: sp.csr_matrix, data: Interactions, rng: np.random.Generator) -> None:
        """Build the arrays training needs (called before ``_build_module``)."""

    @abstractmethod
    def _train_epoch(self, epoch: int, rng: np.random.Generator) -> float:
        """One pass over the training data; returns the mean loss."""

    def _extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def _load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore what ``_extra_state`` returned (keys without the ``extra.`` prefix)."""

    # shared mechanics ------------------------------------------------------
    def _fit(self, X: sp.csr_matrix, data: Interactions) -> None:
        self.device_ = resolve_device(self.device)
        self._cache_: dict[str, Any] = {}
        with seeded(int(self.seed), self.device_) as rng:
            self._prepare(X, data, rng)
            self.module_ = self._build_module().to(self.device_)
            self.optimizer_ = self._make_optimizer()
            cb = self._epoch_callback

            def callback(epoch: int) -> float | None:
                self._cache_ = {}  # weights changed: item-side caches are stale
                return cb(self, epoch) if cb is not None else None

            self.loss_history_ = train_epochs(
                lambda epoch: self._train_epoch(epoch, rng),
                int(self.epochs),
                self.module_,
                description=type(self).__name__,
                callback=callback if cb is not None else None,
                patience=self.patience,
            )
        del self.optimizer_  # not needed for serving; keeps the fitted model light
        self._cache_ = {}

    def _make_optimizer(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.module_.parameters(), lr=self.lr)

    def _get_state(self) -> dict[str, np.ndarray]:
        state = module_to_numpy(self.module_)
        state.update({"extra." + k: v for k, v in self._extra_state().items()})
        return state

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict | None = None) -> None:
        self.device_ = resolve_device(self.device)
        self._cache_ = {}
        self._load_extra_state(
            {k[len("extra.") :]: v for k, v in arrays.items() if k.startswith("extra.")}
        )
        module = self._build_module()
        self.module_ = numpy_to_module(module, arrays).to(self.device_).eval()
        self.loss_history_ = []

    def _tensor(self, a: np.ndarray, dtype: torch.dtype = torch.long) -> torch.Tensor:
        return torch.as_tensor(np.asarray(a), dtype=dtype, device=self.device_)

    def _check_params(self, **ranges: tuple[float, float]) -> None:
        """Validate numeric hyper-parameters against inclusive ``(low, high)`` ranges."""
        for name, (low, high) in ranges.items():
            value = getattr(self, name)
            if value is None or not (low <= value <= high):
                raise ValidationError(
                    f"{type(self).__name__}: {name}={value!r} must be in [{low}, {high}]"
                )
