"""Tuning and evaluation of the recommendation benchmark's models on one (validation, test) pair.

Every model is tuned on the validation split (carved from the training data by the same
protocol), refitted on the whole training data and evaluated once on the test split
(:func:`shopml.evaluation.protocols.evaluate`); the best shopml model is compared with every
peer by paired tests on the same users.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from shopml.benchmarks.recommend_models import ImplicitPeer, ModelSpec
from shopml.benchmarks.runner import Row, timed
from shopml.evaluation.protocols import RecommendSplit, evaluate, train_popularity
from shopml.evaluation.ranking import RankingReport
from shopml.evaluation.stats import paired_test

log = logging.getLogger(__name__)

K = 10
REPORTED = ("ndcg", "map", "precision", "recall", "mrr", "hit_rate", "map_min", "pop_bias")


def _fit(spec: ModelSpec, params: dict[str, Any], split: RecommendSplit) -> Any:
    model = spec.build(**params)
    if isinstance(model, ImplicitPeer):
        return model.fit(split.train)
    return model.fit(split.train, items=split.items)


def tune(
    spec: ModelSpec, validation: RecommendSplit, k: int = K, metric: str = "ndcg"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best parameters of ``spec`` on the validation split by ``metric@k``; all trials."""
    trials = []
    for params in spec.grid:
        t0 = time.perf_counter()
        model = _fit(spec, params, validation)
        report, _ = evaluate(model, validation, k)
        score = report.means()[f"{metric}@{k}"]
        trials.append(
            {
                "params": params,
                f"val_{metric}@{k}": round(score, 5),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        log.info("  %s %s: val %s@%d = %.4f", spec.name, params, metric, k, score)
    best = max(trials, key=lambda t: t[f"val_{metric}@{k}"])
    return best["params"], trials


def bench_split(
    specs: list[ModelSpec],
    validation: RecommendSplit,
    test: RecommendSplit,
    tune_params: bool = True,
    n_boot: int = 1000,
    k: int = K,
) -> tuple[list[Row], dict[str, RankingReport]]:
    """Tune, refit and evaluate every model on one (validation, test) pair."""
    pop = train_popularity(test)
    rows, reports = [], {}
    for spec in specs:
        log.info("%s on %s", spec.name, test.name)
        if tune_params and len(spec.grid) > 1:
            params, trials = tune(spec, validation, k)
        else:
            params, trials = spec.grid[0], []
        times: dict[str, float] = {}
        with timed(times, "fit"):
            model = _fit(spec, params, test)
        report, predict_s = evaluate(model, test, k, item_popularity=pop)
        means = report.means()
        metrics = {
            m: round(v, 5)
            for m, v in means.items()
            if m.split("@")[0] in REPORTED or m.startswith("coverage")
        }
        ci = {
            m: [round(c.low, 5), round(c.high, 5)]
            for m, c in report.confidence_intervals(n=n_boot, seed=0).items()
        }
        rows.append(
            Row(
                model=spec.name if test.variant is None else f"{spec.name} ({test.variant})",
                metrics=metrics,
                peer=spec.peer,
                fit_seconds=round(times["fit"], 3),
                predict_seconds=round(predict_s, 3),
                params=params,
                extra={"ci": ci, "users": report.n_users, "tuning": trials},
            )
        )
        reports[spec.name] = report
    _paired(rows, reports, specs, k)
    return rows, reports


def _paired(
    rows: list[Row], reports: dict[str, RankingReport], specs: list[ModelSpec], k: int
) -> None:
    """Best shopml model versus every peer on per-user NDCG@k (same users, same order)."""
    key = f"ndcg@{k}"
    ours = [s.name for s in specs if not s.peer]
    peers = [s.name for s in specs if s.peer]
    if not ours or not peers:
        return
    best = max(ours, key=lambda n: reports[n].means()[key])
    row = rows[[s.name for s in specs].index(best)]
    row.extra["paired"] = {
        f"{key} vs {p}": paired_test(
            reports[best].per_user[key], reports[p].per_user[key], n=1000, seed=0
        ).as_dict()
        for p in peers
    }
