"""Pipeline step ``images``: product-image classifiers on the workspace's catalogue photos.

Protocol: items with an ``image_path`` and a ``category`` (classes with at least 2 images) are
split stratified by class (``test_fraction`` held out, the run's seed). Each model picks its
epoch / boosting rounds on a validation part carved from the training images. Metrics on the
held-out images: accuracy and macro-F1; the majority class is the baseline. The best model is
registered as ``vision/classifier`` with the embeddings of every catalogue image (similar
items, auto-tagging).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
from pydantic import Field

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import (
    Leader,
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    version_ref,
)


class ImagesStep(Strict):
    """The ``train.images`` section."""

    models: list[Literal["histogram-gbm", "cnn"]] = Field(
        default_factory=lambda: ["histogram-gbm", "cnn"], min_length=1
    )
    #: model parameters by model name (e.g. ``cnn: {max_time_s: 600, image_size: 64}``)
    params: dict[str, dict[str, Any]] = Field(default_factory=dict)
    test_fraction: float = Field(0.2, gt=0, lt=0.9)
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


def _scores(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    classes = np.unique(y)
    f1 = []
    for c in classes:  # a loop over the (few) classes, not over rows
        tp = np.sum((pred == c) & (y == c))
        denom = np.sum(pred == c) + np.sum(y == c)
        f1.append(2 * tp / denom if denom else 0.0)
    return {
        "accuracy": round(float(np.mean(pred == y)), 5),
        "macro_f1": round(float(np.mean(f1)), 5),
    }


@register_step("images", ImagesStep, tables=("items",), section="vision")
def images(ctx: StepContext, cfg: ImagesStep) -> StepResult:
    """Fit each image classifier on the training photos and score the held-out ones."""
    from shopml.vision.base import stratified_holdout
    from shopml.vision.io import decode_many
    from shopml.vision.train import ITEMS_SQL, make_model, score_catalogue, write_version

    items = ctx.workspace.sql(ITEMS_SQL)
    labelled = items[items["category"].notna() & (items["category"] != "")].reset_index(drop=True)
    counts = labelled["category"].value_counts()
    labelled = labelled[labelled["category"].map(counts) >= 2].reset_index(drop=True)
    if len(labelled) < 20 or labelled["category"].nunique() < 2:
        raise StepSkipped("fewer than 20 items with an image and a category (2+ classes)")
    y_all = labelled["category"].to_numpy(dtype=str)
    _, codes = np.unique(y_all, return_inverse=True)
    tr, te = stratified_holdout(codes, cfg.test_fraction, ctx.evaluate.seed)
    paths = labelled["image_path"].to_numpy(dtype=str)
    result = StepResult(
        "images",
        f"{len(labelled)} photos in {len(counts)} classes, stratified split, {len(te)} held out; "
        "model selection on a validation part carved from training",
        "accuracy",
        True,
    )
    maj = np.unique(y_all[tr], return_counts=True)
    result.leaderboard.append(
        Leader(
            "majority (baseline)",
            _scores(y_all[te], np.full(len(te), maj[0][maj[1].argmax()])),
            baseline=True,
        )
    )
    fitted = {}
    for name in cfg.models:
        model = make_model(name, {"seed": ctx.evaluate.seed, **cfg.params.get(name, {})})
        size = model._decode_size()
        dtr = decode_many(list(paths[tr]), size, skip_bad=True)
        dte = decode_many(list(paths[te]), size, skip_bad=True)
        for what, d in (("training", dtr), ("held-out", dte)):
            if d.skipped:
                result.notes.append(
                    f"{name}: {len(d.skipped)} {what} image(s) skipped, e.g. {d.skipped[0][2]}"
                )
        t0 = time.perf_counter()
        model.fit(dtr.images, y_all[tr][dtr.index])
        fit_s = time.perf_counter() - t0
        p, _ = model.predict_decoded(dte.images)
        met = _scores(y_all[te][dte.index], model.classes_[p.argmax(axis=1)])
        result.leaderboard.append(
            Leader(name, met, fit_seconds=round(fit_s, 3), params=model._saved_params())
        )
        fitted[name] = model
    best = result.best()
    if (
        best is not None
        and best.model in fitted
        and ctx.wants(best.model, best.model, cfg.register_policy)
    ):
        model = fitted[best.model]
        cat = score_catalogue(model, items)
        mv = ctx.register(
            "vision",
            "classifier",
            lambda folder: write_version(folder, model, cat),
            config={
                "model": best.model,
                "params": model._saved_params(),
                "classes": list(model.classes_),
            },
            metrics=best.metrics,
        )
        result.registered.append(
            {**version_ref(mv), "model": best.model, "test_metrics": best.metrics}
        )
    return result
