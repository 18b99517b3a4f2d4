"""Hyper-parameter search: the space a model declares, trials on a validation split, best config.

:func:`search` is generic: an ``objective(params) -> score`` (higher is better), the model's
declared :mod:`~shopml.core.space` and a number of trials. The configurations are drawn once, with
a seed, from that space; the ``local`` engine evaluates them one after the other, the ``ray``
engine hands the same configurations to Ray Tune (as the first points of its
``BasicVariantGenerator`` over the space turned into Tune distributions), which runs them in
parallel trials across the cluster. Same configurations and deterministic models mean both
engines pick the same best.

For recommenders, :class:`RecommenderObjective` fits on the earlier part of the interactions and
scores full-ranking NDCG@k of the later part (temporal split, seen items removed, items new in
the validation period counted as relevant and unreachable) with :mod:`shopml.evaluation`;
:func:`tune_recommender` wires it to a model's ``search_space``. Another capability plugs in
with its own objective (e.g. a predictor's validation log-loss) and the same :func:`search`.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ShopMLError, ValidationError
from shopml.core.progress import track
from shopml.core.space import (
    Choice,
    Dimension,
    IntRange,
    LogUniform,
    SearchSpace,
    Uniform,
    check_space,
    model_search_space,
    sample_configs,
)
from shopml.distributed.engine import check_engine, ray_session

Objective = Callable[[dict[str, Any]], float]


@dataclass
class TuneResult:
    """The best configuration, its score, and every trial (params, score, seconds)."""

    best_params: dict[str, Any]
    best_score: float
    metric: str
    engine: str
    trials: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def summary(self) -> dict[str, Any]:
        return {
            "best_params": self.best_params,
            f"best_{self.metric}": round(self.best_score, 6),
            "engine": self.engine,
            "trials": len(self.trials),
            "seconds": round(self.seconds, 2),
        }


def to_tune(space: SearchSpace) -> dict[str, Any]:
    """The declared space as Ray Tune sampling distributions."""
    from ray import tune

    def one(d: Dimension) -> Any:
        if isinstance(d, Uniform):
            return tune.uniform(d.low, d.high)
        if isinstance(d, LogUniform):
            return tune.loguniform(d.low, d.high)
        if isinstance(d, IntRange):
            return tune.lograndint(d.low, d.high + 1) if d.log else tune.randint(d.low, d.high + 1)
        if isinstance(d, Choice):
            return tune.choice(list(d.values))
        raise ValidationError(f"no Ray Tune counterpart for {d!r}")

    return {k: one(d) for k, d in check_space(space).items()}


def search(
    objective: Objective,
    space: SearchSpace,
    num_samples: int = 8,
    seed: int = 0,
    engine: str = "local",
    address: str | None = None,
    metric: str = "score",
    fixed: dict[str, Any] | None = None,
    cpus_per_trial: float = 1.0,
    storage_path: str | None = None,
) -> TuneResult:
    """Evaluate ``num_samples`` configurations from ``space`` and return the best (highest score).

    ``fixed`` parameters are passed to every trial and not searched. A trial whose objective
    raises or returns a non-finite score counts as failed; the search fails only if all do.
    """
    check_engine(engine, address)
    space = check_space(space)
    configs = sample_configs(space, num_samples, seed=seed, fixed=fixed)
    t0 = time.perf_counter()
    if engine == "local":
        trials = [_run_trial(objective, c) for c in track(configs, "tuning (local)")]
    else:
        trials = _ray_trials(
            objective, space, configs, seed, address, cpus_per_trial, storage_path, fixed
        )
    ok = [t for t in trials if t.get("error") is None and math.isfinite(t["score"])]
    if not ok:
        errors = sorted({str(t.get("error")) for t in trials})
        raise ShopMLError(f"every one of {len(trials)} trials failed: {'; '.join(errors)[:500]}")
    # trials are in drawing order with both engines; max keeps the first of tied scores
    best = max(ok, key=lambda t: t["score"])
    return TuneResult(
        dict(best["params"]), float(best["score"]), metric, engine, trials, time.perf_counter() - t0
    )


def _run_trial(objective: Objective, params: dict[str, Any]) -> dict[str, Any]:
    t0 = time.perf_counter()
    try:
        score, error = float(objective(dict(params))), None
    except ShopMLError as exc:  # bad region of the space (e.g. a singular system): a failed trial
        score, error = float("nan"), f"{type(exc).__name__}: {exc}"
    return {
        "params": params,
        "score": score,
        "error": error,
        "seconds": round(time.perf_counter() - t0, 3),
    }


def _trainable(config: dict[str, Any], objective: Objective) -> None:
    """A Ray Tune function trainable: one objective evaluation, reported once."""
    from ray import tune

    trial = _run_trial(objective, config)
    tune.report(
        {
            "score": trial["score"],
            "failed": trial["error"] is not None,
            "error": trial["error"] or "",
        }
    )


def _ray_trials(
    objective: Objective,
    space: SearchSpace,
    configs: list[dict[str, Any]],
    seed: int,
    address: str | None,
    cpus_per_trial: float,
    storage_path: str | None,
    fixed: dict[str, Any] | None,
) -> list[dict[str, Any]]:
    from ray import tune
    from ray.tune.search import BasicVariantGenerator

    with ray_session(address):
        param_space = to_tune({k: d for k, d in space.items() if k not in (fixed or {})})
        param_space.update(fixed or {})
        trainable = tune.with_resources(
            tune.with_parameters(_trainable, objective=objective), {"cpu": cpus_per_trial}
        )
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                metric="score",
                mode="max",
                num_samples=len(configs),
                reuse_actors=True,  # one process per concurrent trial, not per trial
                # the pre-drawn configurations, in order: the same trials as the local engine
                search_alg=BasicVariantGenerator(
                    points_to_evaluate=[dict(c) for c in configs], random_state=seed
                ),
            ),
            run_config=tune.RunConfig(storage_path=storage_path, verbose=0),
        )
        # Tune's newer console output prints an experiment table even at verbose=0; the classic
        # reporter stays silent, and shopml reports the search itself
        previous = os.environ.get("RAY_AIR_NEW_OUTPUT")
        os.environ["RAY_AIR_NEW_OUTPUT"] = "0"
        try:
            grid = tuner.fit()
        finally:
            if previous is None:
                os.environ.pop("RAY_AIR_NEW_OUTPUT", None)
            else:
                os.environ["RAY_AIR_NEW_OUTPUT"] = previous
        trials = []
        for r in grid:
            params = {k: r.config[k] for k in configs[0]}
            metrics = r.metrics or {}
            error = metrics.get("error") or (str(r.error) if r.error is not None else None)
            trials.append(
                {
                    "params": params,
                    "score": float(metrics.get("score", float("nan"))),
                    "error": error or None,
                    "seconds": round(float(metrics.get("time_total_s", 0.0)), 3),
                }
            )
    # Tune's result order is its own; report the trials in the order they were drawn
    order = {repr(sorted(c.items())): i for i, c in enumerate(configs)}
    return sorted(trials, key=lambda t: order.get(repr(sorted(t["params"].items())), len(order)))


# ----------------------------------------------------------------------------- recommenders


class RecommenderObjective:
    """Fit a recommender on a temporal training part, score NDCG@k on the validation part.

    Built once from the interactions (``user_id, item_id, ts``); picklable, so Ray Tune ships it
    to its trials through the object store.
    """

    def __init__(
        self,
        model_name: str,
        interactions: pd.DataFrame,
        items: pd.DataFrame | None = None,
        validation_fraction: float = 0.2,
        k: int = 10,
    ) -> None:
        from shopml.evaluation.protocols import make_split
        from shopml.evaluation.splits import temporal_split
        from shopml.recommend.interactions import Interactions

        if not isinstance(k, (int, np.integer)) or k < 1:
            raise ValidationError(f"k must be a positive integer, got {k!r}")
        missing = {"user_id", "item_id", "ts"} - set(interactions.columns)
        if missing:
            raise ValidationError(
                f"interactions need user_id, item_id, ts; missing {sorted(missing)}"
            )
        train, val = temporal_split(interactions, test_fraction=validation_fraction)
        protocol = f"temporal validation: last {validation_fraction:.0%} of interactions, novel items, seen removed"
        self.split = make_split(
            "validation", train, val, True, protocol, novel_only=True, items=items,
            interactions=Interactions.from_frame,
        )
        if len(self.split.users) == 0:
            raise ValidationError(
                "the validation period has no user who was also active before it; "
                "tuning needs more history (or a larger validation_fraction)"
            )
        self.model_name, self.k = model_name, int(k)

    @property
    def metric(self) -> str:
        return f"ndcg@{self.k}"

    def __call__(self, params: dict[str, Any]) -> float:
        from shopml.evaluation.protocols import evaluate
        from shopml.recommend.train import model_class

        try:
            model = model_class(self.model_name)(**params)
        except TypeError as exc:
            raise ValidationError(f"bad parameters for {self.model_name}: {exc}") from None
        model.fit(self.split.train, items=self.split.items)
        report, _ = evaluate(model, self.split, self.k)
        return float(report.means()[self.metric])


def tune_recommender(
    model_name: str,
    interactions: pd.DataFrame,
    items: pd.DataFrame | None = None,
    num_samples: int = 8,
    seed: int = 0,
    engine: str = "local",
    address: str | None = None,
    fixed: dict[str, Any] | None = None,
    validation_fraction: float = 0.2,
    k: int = 10,
    storage_path: str | None = None,
) -> TuneResult:
    """Search the ``search_space`` declared on ``model_name``'s class by validation NDCG@k."""
    from shopml.recommend.train import model_class

    space = model_search_space(model_class(model_name))
    objective = RecommenderObjective(model_name, interactions, items, validation_fraction, k)
    return search(
        objective,
        space,
        num_samples=num_samples,
        seed=seed,
        engine=engine,
        address=address,
        metric=objective.metric,
        fixed=fixed,
        storage_path=storage_path,
    )


__all__ = ["RecommenderObjective", "TuneResult", "search", "to_tune", "tune_recommender"]
