"""The recommenders of the recommendation benchmark: shopml's own and the `implicit` peers.

Each :class:`ModelSpec` says how to build a model and which configurations to try on the
validation split (at most :data:`GRID_BUDGET`, the same budget for every model, peers included).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from threadpoolctl import threadpool_limits

from shopml.core.errors import ValidationError
from shopml.recommend.interactions import Interactions

log = logging.getLogger(__name__)

GRID_BUDGET = 6  # configurations tried per model on the validation split
THREADS = 2


@dataclass
class ModelSpec:
    """A model in the benchmark: how to build it from parameters and what to try."""

    name: str
    build: Callable[..., Any]
    grid: list[dict[str, Any]]
    peer: bool = False
    heavy: bool = False  # left out of quick runs unless named

    def __post_init__(self) -> None:
        if not 1 <= len(self.grid) <= GRID_BUDGET:
            raise ValidationError(
                f"{self.name}: grid of {len(self.grid)} exceeds the budget of {GRID_BUDGET}"
            )


class ImplicitPeer:
    """An `implicit` model behind the two methods the benchmark calls."""

    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.params = params

    def fit(self, data: Interactions) -> ImplicitPeer:
        if self.kind == "als":
            from implicit.cpu.als import AlternatingLeastSquares as Model
        elif self.kind == "bpr":
            from implicit.cpu.bpr import BayesianPersonalizedRanking as Model
        else:
            raise ValidationError(f"unknown implicit model {self.kind!r}")
        self.train_ = data.matrix.tocsr().astype(np.float32)
        # implicit parallelises over users itself and asks for a single-threaded BLAS
        with threadpool_limits(1, "blas"):
            self.model_ = Model(num_threads=THREADS, random_state=0, **self.params)
            self.model_.fit(self.train_, show_progress=False)
        return self

    def top_k_indices(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True) -> np.ndarray:
        ids, _ = self.model_.recommend(
            np.asarray(user_idx),
            self.train_[user_idx],
            N=k,
            filter_already_liked_items=exclude_seen,
        )
        return np.asarray(ids, dtype=np.int64)


def _grid(**axes: Iterable[Any]) -> list[dict[str, Any]]:
    """Cartesian product of parameter values."""
    out: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        out = [{**o, key: v} for o in out for v in values]
    return out


def model_specs() -> dict[str, ModelSpec]:
    """Every benchmarked model: shopml's own (torch ones where importable) and the peers."""
    from shopml.recommend.als import ALS
    from shopml.recommend.ease import EASE
    from shopml.recommend.knn import TIFUKNN, ItemKNN, UserKNN
    from shopml.recommend.popularity import Popularity
    from shopml.recommend.time_decay import TimeDecayEASE

    # ALS grids: the same confidences c on observed pairs for both implementations
    # (shopml: c = 1 + alpha, implicit: c = alpha on binary data)
    conf, regs = [2.0, 5.0], [10.0, 20.0, 40.0]
    bpr_grid = [
        {"factors": f, "learning_rate": lr, "regularization": 0.001, "iterations": it}
        for f in (32, 64, 128)
        for lr, it in ((0.005, 100), (0.01, 50))
    ]
    specs = [
        ModelSpec("popularity", Popularity, [{}]),
        ModelSpec("itemknn", ItemKNN, _grid(k_neighbours=[100, 400, 1600], shrinkage=[0.0, 10.0])),
        ModelSpec("userknn", UserKNN, _grid(k_neighbours=[50, 100, 200], shrinkage=[0.0, 10.0])),
        ModelSpec(
            "als",
            ALS,
            _grid(
                embedding_dim=[64],
                alpha=[c - 1 for c in conf],
                regularization=regs,
                iterations=[15],
                num_threads=[THREADS],
            ),
        ),
        ModelSpec("ease", EASE, _grid(l2=[50.0, 100.0, 200.0, 400.0, 800.0, 1600.0])),
        ModelSpec(
            "ease-decay",
            TimeDecayEASE,
            _grid(half_life_days=[15.0, 30.0, 60.0], l2=[100.0, 200.0]),
        ),
        ModelSpec(
            "tifu-knn",
            TIFUKNN,
            _grid(k_neighbours=[100], self_weight=[0.5, 0.8], decay=[0.9, 0.98, 1.0]),
        ),
        ModelSpec(
            "implicit-als",
            lambda **p: ImplicitPeer("als", **p),
            _grid(factors=[64], alpha=conf, regularization=regs, iterations=[15]),
            peer=True,
        ),
        ModelSpec("implicit-bpr", lambda **p: ImplicitPeer("bpr", **p), bpr_grid, peer=True),
    ]
    specs += _torch_specs()
    return {s.name: s for s in specs}


def _torch_specs() -> list[ModelSpec]:
    """The torch recommenders, each included only if its module imports."""
    import importlib

    candidates = [
        (
            "bpr",
            "shopml.recommend.bpr",
            "BPR",
            [{}],
        ),
        ("neumf", "shopml.recommend.neumf", "NeuMF", [{}]),
        ("sasrec", "shopml.recommend.sasrec", "SASRec", [{}]),
        ("two-tower", "shopml.recommend.two_tower", "TwoTower", [{}]),
    ]
    out = []
    for name, module, cls, grid in candidates:
        try:
            klass = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as exc:
            log.info("skipping %s: %s", name, exc)
            continue
        out.append(ModelSpec(name, klass, grid, heavy=True))
    return out
