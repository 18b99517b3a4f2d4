"""Pipeline step ``sentiment``: review sentiment models on the workspace's reviews.

Protocol: reviews with text and a star rating (or, failing that, a sentiment score) are split
by product when items are known (20% of the products are test), else stratified. Each model
chooses its hyper-parameters on a validation part of its training rows. Metrics on the test
reviews: stars macro-F1, stars MAE and polarity macro-F1 (stars), or Pearson and polarity
accuracy on non-zero scores (scores); the majority class is the baseline. The best model is
registered as ``text/sentiment``.
"""

from __future__ import annotations

import time
from typing import Literal

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


class SentimentStep(Strict):
    """The ``train.sentiment`` section."""

    models: list[Literal["tfidf", "minilm-linear", "minilm-mlp", "minilm-finetune"]] = Field(
        default_factory=lambda: ["tfidf", "minilm-linear"], min_length=1
    )
    test_fraction: float = Field(0.2, gt=0, lt=0.9)
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


@register_step("sentiment", SentimentStep, tables=("reviews",), section="text")
def sentiment(ctx: StepContext, cfg: SentimentStep) -> StepResult:
    """Fit each sentiment model on the training reviews and score the test reviews."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    from shopml.text.embeddings import nlp_available
    from shopml.text.models import make_model
    from shopml.text.train import REVIEWS_SQL

    df = ctx.workspace.sql(REVIEWS_SQL)
    df = df[df["text"].fillna("").str.strip() != ""]
    target = "rating" if df["rating"].notna().sum() >= 50 else "sentiment"
    df = df[df[target].notna()].reset_index(drop=True)
    if len(df) < 50:
        raise StepSkipped("fewer than 50 reviews with text and a rating or sentiment")
    y = df[target].to_numpy(float)
    stars = target == "rating"
    idx = np.arange(len(df))
    seed = ctx.evaluate.seed
    if df["item_id"].notna().all() and df["item_id"].nunique() >= 5:
        tr, te = next(
            GroupShuffleSplit(1, test_size=cfg.test_fraction, random_state=seed).split(
                idx, y, df["item_id"]
            )
        )
        how = "split by product"
    else:
        tr, te = train_test_split(idx, test_size=cfg.test_fraction, random_state=seed)
        how = "random split"
    texts = df["text"].astype(str).tolist()
    tr_t, te_t = [texts[i] for i in tr], [texts[i] for i in te]
    primary = "stars_macro_f1" if stars else "pearson"
    result = StepResult(
        "sentiment",
        f"{len(df)} reviews ({target}), {how}, {len(te)} test; "
        "model selection on a validation part of training",
        primary,
        True,
    )
    if stars:
        maj = np.bincount(y[tr].astype(int)).argmax()
        result.leaderboard.append(
            Leader(
                "majority (baseline)",
                {
                    "stars_macro_f1": round(
                        float(f1_score(y[te].astype(int), np.full(len(te), maj), average="macro")),
                        5,
                    ),
                    "stars_mae": round(float(np.mean(np.abs(y[te] - maj))), 5),
                },
                baseline=True,
            )
        )
    fitted = {}
    for name in cfg.models:
        if name.startswith("minilm") and not nlp_available():
            result.notes.append(f"{name} skipped: the nlp extra is not installed")
            continue
        model = make_model(name, seed=seed)
        t0 = time.perf_counter()
        model.fit(tr_t, y[tr].astype(int) if stars else y[tr])
        fit_s = time.perf_counter() - t0
        if stars:
            s = model.stars(te_t)
            yt = y[te].astype(int)
            pol = np.where(yt <= 2, "negative", np.where(yt == 3, "neutral", "positive"))
            met = {
                "stars_macro_f1": float(f1_score(yt, s, average="macro")),
                "stars_mae": float(np.mean(np.abs(s - yt))),
                "polarity_macro_f1": float(f1_score(pol, model.polarity(te_t), average="macro")),
            }
        else:
            p = model.predict(te_t)
            nz = y[te] != 0
            met = {
                "pearson": float(np.corrcoef(p, y[te])[0, 1]),
                "polarity_acc_nonzero": float(np.mean(np.sign(p[nz]) == np.sign(y[te][nz]))),
            }
        result.leaderboard.append(
            Leader(name, {k: round(v, 5) for k, v in met.items()}, fit_seconds=round(fit_s, 3))
        )
        fitted[name] = model
    best = result.best()
    if best is not None and ctx.wants(best.model, best.model, cfg.register_policy):
        model = fitted[best.model]
        mv = ctx.register(
            "text",
            "sentiment",
            lambda folder: model.save(folder),
            config={"model": best.model, "params": model.get_params()},
            metrics=best.metrics,
        )
        result.registered.append(
            {**version_ref(mv), "model": best.model, "test_metrics": best.metrics}
        )
    return result
