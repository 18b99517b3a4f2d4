"""Pipeline step ``recommend``: train several recommenders, rank them on the future, register.

Protocol: the workspace's interactions (:func:`shopml.recommend.train.load_interactions`) are
split in time: the last ``test_days`` are the test period. Every model, the baselines included,
is fitted on the training period only and ranks the whole catalogue for every user active in
both periods (full ranking, no sampled negatives; items seen in training removed unless
``repeat`` is on). Metrics are per-user means with bootstrap intervals; the best model is
compared with each baseline by a paired test on the same users. The models to register are then
refitted on all interactions (what a deployed model would see) by
:func:`shopml.recommend.train.train_and_register`.
"""

from __future__ import annotations

import inspect
import time
from typing import Any, Literal

import numpy as np
from pydantic import Field, field_validator, model_validator

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import (
    Leader,
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    version_ref,
)

PER_USER = ("precision", "recall", "hit_rate", "ndcg", "mrr", "map")


class ModelEntry(Strict):
    """One recommender and its hyper-parameters (constructor arguments)."""

    name: str
    params: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check(self) -> ModelEntry:
        from shopml.recommend.train import MODELS, model_class

        if self.name not in MODELS:
            raise ValueError(f"unknown recommender {self.name!r}; choose one of {sorted(MODELS)}")
        sig = inspect.signature(model_class(self.name).__init__)
        unknown = sorted(set(self.params) - set(sig.parameters) - {"self"})
        if unknown:
            accepted = [p for p in sig.parameters if p != "self"]
            raise ValueError(f"{self.name} has no parameter(s) {unknown}; it takes {accepted}")
        return self


class RecommendStep(Strict):
    """The ``train.recommend`` section."""

    models: list[ModelEntry] = Field(min_length=1)
    baselines: list[ModelEntry] = Field(default_factory=lambda: [ModelEntry(name="popularity")])
    source: Literal["auto", "events", "orders"] = "auto"
    test_days: float = Field(30.0, gt=0)
    k: int = Field(10, ge=1, le=100)
    repeat: bool = False
    select: Literal["ndcg", "recall", "map", "mrr", "precision", "hit_rate"] = "ndcg"
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")

    @field_validator("models", "baselines", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        # "ease" is short for {name: ease}
        return [{"name": m} if isinstance(m, str) else m for m in v] if isinstance(v, list) else v


@register_step("recommend", RecommendStep, tables=("events", "orders", "items"))
def recommend(ctx: StepContext, cfg: RecommendStep) -> StepResult:
    """Fit every listed recommender and the baselines on the past, rank the future, register."""
    from shopml.core.errors import DataError, ValidationError
    from shopml.evaluation.protocols import evaluate, make_split, train_popularity
    from shopml.evaluation.splits import temporal_split
    from shopml.evaluation.stats import paired_test
    from shopml.recommend.interactions import Interactions
    from shopml.recommend.train import (
        ITEM_COLUMNS,
        load_interactions,
        model_class,
        train_and_register,
    )

    try:
        frame, used = load_interactions(ctx.workspace, cfg.source)
    except DataError as exc:
        raise StepSkipped(str(exc)) from None
    items = ctx.workspace.df("items", columns=ITEM_COLUMNS)
    try:
        train_df, test_df = temporal_split(frame, test_days=cfg.test_days)
    except ValidationError:
        raise StepSkipped(
            f"the interactions span less than the {cfg.test_days:g}-day test period"
        ) from None
    protocol = (
        f"temporal: {used}; test = the last {cfg.test_days:g} days, users active in both periods, "
        f"top-{cfg.k} over all items, "
        + (
            "repeat interactions count"
            if cfg.repeat
            else "items seen in training removed, new items only"
        )
    )
    split = make_split(
        "test",
        train_df,
        test_df,
        exclude_seen=not cfg.repeat,
        protocol=protocol,
        novel_only=not cfg.repeat,
        items=items if len(items) else None,
        interactions=Interactions.from_frame,
    )
    if len(split.users) == 0:
        raise StepSkipped("no user is active in both the training and the test period")
    pop = train_popularity(split)
    entries = [(m, True) for m in cfg.baselines] + [
        (m, False) for m in cfg.models if m.name not in {b.name for b in cfg.baselines}
    ]
    ks = sorted({k for k in (1, 5, 10, 20, cfg.k) if k <= cfg.k})
    key = f"{cfg.select}@{cfg.k}"
    result = StepResult("recommend", protocol, key, True, stats=dict(split.stats, source=used))
    per_user: dict[str, np.ndarray] = {}
    curves = []
    task = ctx.progress.add_task("recommend: fitting", total=len(entries))
    for entry, is_baseline in entries:
        ctx.progress.update(task, description=f"recommend: {entry.name}")
        model = model_class(entry.name)(**entry.params)
        t0 = time.perf_counter()
        model.fit(split.train, items=split.items)
        fit_s = time.perf_counter() - t0
        top = model.top_k_indices(split.users, cfg.k, exclude_seen=split.exclude_seen)
        report, _ = evaluate(_Fixed(top), split, cfg.k, item_popularity=pop)
        means = report.means()
        cis = report.confidence_intervals(
            n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed, level=ctx.evaluate.level
        )
        shown = {m: v for m, v in means.items() if m.split("@")[0] in (*PER_USER, "coverage")}
        result.leaderboard.append(
            Leader(
                entry.name,
                {m: round(float(v), 5) for m, v in shown.items()},
                {m: [round(c.low, 5), round(c.high, 5)] for m, c in cis.items() if m in shown},
                is_baseline,
                round(fit_s, 3),
                model.get_params(),
            )
        )
        per_user[entry.name] = report.per_user[key]
        at_k = _at_cutoffs(top, split, ks)
        curves.append({"name": entry.name, "x": ks, "y": at_k})
        ctx.progress.advance(task)
    ctx.progress.remove_task(task)
    result.plots.append(
        {
            "title": f"recall at each cut-off (test users: {len(split.users)})",
            "kind": "lines",
            "x_label": "K (list length)",
            "y_label": "recall@K",
            "series": curves,
        }
    )
    best = result.best()
    if best is not None:
        paired = {}
        for b in (r for r in result.leaderboard if r.baseline):
            t = paired_test(
                per_user[best.model],
                per_user[b.model],
                n=ctx.evaluate.bootstrap,
                seed=ctx.evaluate.seed,
                level=ctx.evaluate.level,
            )
            paired[f"{best.model} vs {b.model}"] = t.as_dict()
            result.notes.append(
                f"{best.model} vs {b.model} on per-user {key}: difference {t.mean_diff:+.4f} "
                f"[{t.low:+.4f}, {t.high:+.4f}], paired bootstrap p = {t.bootstrap_pvalue:.3g}"
            )
        result.stats["paired"] = paired
        base = max((r for r in result.leaderboard if r.baseline), default=None,
                   key=lambda r: r.metrics[key])
        if base is not None:  # the summary's comparison: the best model against the best baseline
            t = paired[f"{best.model} vs {base.model}"]
            result.stats["best_vs_baseline"] = {
                "model": best.model, "baseline": base.model, "metric": key,
                "diff": round(t["mean_diff"], 5), "ci": [round(t["low"], 5), round(t["high"], 5)],
            }
    # "best" is the best row overall: where a baseline wins, the baseline is what should serve
    chosen = result.best(include_baselines=True)
    if chosen is not None and chosen.baseline:
        result.notes.append(f"the baseline {chosen.model} beat every model on {key}")
    for row, (entry, _) in zip(result.leaderboard, entries, strict=True):
        if ctx.wants(row.model, chosen.model if chosen else None, cfg.register_policy):
            mv = train_and_register(
                ctx.workspace, ctx.registry, entry.name, entry.params, source=used
            )
            result.registered.append(
                {**version_ref(mv), "model": row.model, "test_metrics": row.metrics}
            )
    return result


class _Fixed:
    """Already computed top-k lists behind the method ``evaluate`` calls (no second scoring)."""

    def __init__(self, top: np.ndarray) -> None:
        self.top = top

    def top_k_indices(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True) -> np.ndarray:
        return self.top[:, :k]


def _at_cutoffs(top: np.ndarray, split, ks: list[int]) -> list[float]:
    from shopml.evaluation.ranking import ranking_metrics

    rep = ranking_metrics(top, split.relevant[split.users], ks=ks, metrics=("recall",))
    means = rep.means()
    return [round(float(means[f"recall@{k}"]), 5) for k in ks]
