"""Pipeline step ``support``: intent classifiers and the assistant on ``support_messages``.

Protocol: labelled messages split stratified (20% test); each classifier carves its own
validation part from training for hyper-parameters, calibration and the hand-over threshold.
Metrics on the test messages: accuracy, macro-F1, the share answered above the threshold and
the accuracy of those. The best is assembled with the default knowledge base and registered as
``support/assistant``.
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


class SupportStep(Strict):
    """The ``train.support`` section."""

    models: list[Literal["tfidf", "minilm-linear", "minilm-mlp", "minilm-finetune"]] = Field(
        default_factory=lambda: ["tfidf", "minilm-linear"], min_length=1
    )
    test_fraction: float = Field(0.2, gt=0, lt=0.9)
    knowledge_base: str | None = None
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


@register_step("support", SupportStep, tables=("support_messages",), section="support")
def support(ctx: StepContext, cfg: SupportStep) -> StepResult:
    """Fit each intent classifier, score the test messages, register the best assistant."""
    from sklearn.metrics import f1_score
    from sklearn.model_selection import train_test_split

    from shopml.support.assistant import SupportAssistant
    from shopml.support.intents import IntentClassifier
    from shopml.support.kb import KnowledgeBase
    from shopml.text.embeddings import nlp_available

    df = ctx.workspace.sql(
        "SELECT text, intent FROM support_messages WHERE intent IS NOT NULL "
        "AND trim(coalesce(text, '')) <> ''"
    )
    if len(df) < 50 or df["intent"].nunique() < 2:
        raise StepSkipped("fewer than 50 labelled support messages (or one intent only)")
    texts, y = df["text"].astype(str).tolist(), df["intent"].astype(str).to_numpy()
    counts = np.unique(y, return_counts=True)[1]
    tr, te = train_test_split(
        np.arange(len(y)),
        test_size=cfg.test_fraction,
        random_state=ctx.evaluate.seed,
        stratify=y if counts.min() >= 2 else None,
    )
    tr_t, te_t = [texts[i] for i in tr], [texts[i] for i in te]
    result = StepResult(
        "support",
        f"{len(y)} messages, {len(counts)} intents, stratified split, "
        f"{len(te)} test; calibration and threshold on a validation part of training",
        "accuracy",
        True,
    )
    fitted = {}
    for name in cfg.models:
        if name.startswith("minilm") and not nlp_available():
            result.notes.append(f"{name} skipped: the nlp extra is not installed")
            continue
        t0 = time.perf_counter()
        clf = IntentClassifier(model=name, seed=ctx.evaluate.seed).fit(tr_t, y[tr])
        fit_s = time.perf_counter() - t0
        pred = clf.predict(te_t)
        ok = pred["intent"].to_numpy() == y[te]
        ans = ~pred["handover"].to_numpy()
        met = {
            "accuracy": float(ok.mean()),
            "macro_f1": float(f1_score(y[te], pred["intent"], average="macro")),
            "answered_share": float(ans.mean()),
            "answered_accuracy": float(ok[ans].mean()) if ans.any() else 0.0,
        }
        result.leaderboard.append(
            Leader(name, {k: round(v, 5) for k, v in met.items()}, fit_seconds=round(fit_s, 3))
        )
        fitted[name] = clf
    best = result.best()
    if best is not None and ctx.wants(best.model, best.model, cfg.register_policy):
        bot = SupportAssistant().fit(KnowledgeBase.load(cfg.knowledge_base), fitted[best.model])
        mv = ctx.register(
            "support",
            "assistant",
            lambda folder: bot.save(folder),
            config={"model": best.model},
            metrics=best.metrics,
        )
        result.registered.append(
            {**version_ref(mv), "model": best.model, "test_metrics": best.metrics}
        )
    return result
