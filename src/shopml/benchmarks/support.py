"""`shopml bench support`: intent accuracy and out-of-scope detection (Bitext, a workspace, a file).

Protocol (the same for ``--dataset``, ``--workspace`` and ``--data``):

1. Three intents are held out entirely (drawn with a fixed seed from the sorted intents and named
   in the results): none of their messages is seen in training; they stand for the questions a
   shop's assistant was never taught (out of scope). With fewer than 6 intents none is held out.
2. The other intents' messages are split stratified (``test_fraction`` test); with ``--test FILE``
   the test file is the test set instead (its messages with held-out intents are the out-of-scope
   part).
3. Each model is an :class:`~shopml.support.intents.IntentClassifier`: it carves its own
   validation part from the training messages for hyper-parameters, the temperature and the
   hand-over threshold (never the test part).
4. In scope: accuracy and macro-F1, the share answered (confidence at or above the threshold) and
   the accuracy of the answered ones. Out of scope: AUROC of ``oos_score`` (held-out messages
   against in-scope test messages) and the share of held-out messages answered above the
   threshold (a confident wrong answer; lower is better).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import DataError, ValidationError

ALL_MODELS = ("tfidf", "minilm-linear", "minilm-mlp", "minilm-finetune")
DEFAULT_MODELS = ("tfidf", "minilm-linear", "minilm-mlp")


def held_out_intents(intents: np.ndarray, n: int, seed: int) -> list[str]:
    """``n`` intents drawn with ``seed`` from the sorted distinct intents (none when < 2n)."""
    labels = np.unique(intents.astype(str))
    if len(labels) < 2 * n:
        return []
    return sorted(np.random.default_rng(seed).choice(labels, n, replace=False).tolist())


def evaluate(clf, texts: list[str], y: np.ndarray, oos_texts: list[str]) -> tuple[dict, dict]:
    """In-scope and out-of-scope metrics of a fitted :class:`IntentClassifier`."""
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    pred = clf.predict(texts)
    correct = pred["intent"].to_numpy() == y
    answered = ~pred["handover"].to_numpy()
    m = {
        "accuracy": float(accuracy_score(y, pred["intent"])),
        "macro_f1": float(f1_score(y, pred["intent"], average="macro", zero_division=0)),
        "answered_share": float(answered.mean()),
        "answered_accuracy": float(correct[answered].mean()) if answered.any() else float("nan"),
    }
    extra: dict[str, Any] = {
        "threshold": round(clf.threshold_, 5),
        "temperature": round(clf.temperature_, 4),
    }
    if oos_texts:
        s_in = 1.0 - pred["confidence"].to_numpy()
        oos = clf.predict(oos_texts)
        s_out = 1.0 - oos["confidence"].to_numpy()
        lab = np.r_[np.zeros(len(s_in)), np.ones(len(s_out))]
        m["oos_auroc"] = float(roc_auc_score(lab, np.r_[s_in, s_out]))
        m["oos_answered_share"] = float((~oos["handover"].to_numpy()).mean())
    return m, extra


def _messages_from_workspace(ws) -> tuple[list[str], np.ndarray, np.ndarray | None]:
    df = ws.sql(
        "SELECT text, intent, json_extract_string(attributes, '$.flags') AS flags "
        "FROM support_messages WHERE intent IS NOT NULL AND trim(coalesce(text, '')) <> ''"
    )
    if len(df) < 20:
        raise DataError("the workspace holds fewer than 20 support messages with an intent")
    flags = df["flags"].fillna("").astype(str).to_numpy() if df["flags"].notna().any() else None
    return df["text"].astype(str).tolist(), df["intent"].astype(str).to_numpy(), flags


def _f3(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def frustration_check(texts: list[str], intents: np.ndarray, tags: np.ndarray) -> dict[str, Any]:
    """The anger flag against Bitext's ``W`` (offensive language) tag, and how often each flag
    fires on complaints against other messages: what the data lets us evaluate."""
    from shopml.text.frustration import frustration_flags

    f = frustration_flags(texts)
    w = np.char.find(tags.astype(str), "W") >= 0
    anger = f["anger_flag"].to_numpy()
    comp = intents == "complaint"
    out: dict[str, Any] = {
        "offensive_messages": int(w.sum()),
        "anger_recall_on_offensive": float(anger[w].mean()) if w.any() else None,
        "anger_precision_vs_offensive": float(w[anger].mean()) if anger.any() else None,
    }
    for flag in ("anger", "disappointment", "urgency"):
        col = f[f"{flag}_flag"].to_numpy()
        out[f"{flag}_rate_complaint"] = float(col[comp].mean()) if comp.any() else None
        out[f"{flag}_rate_other"] = float(col[~comp].mean())
    return out


@suite("support")
def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    test: str | Path | None = None,
    out: str | Path | None = None,
    text_col: str = "text",
    label_col: str = "intent",
    models: list[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    n_held_out: int = 3,
    test_fraction: float = 0.2,
    finetune_seconds: float = 600.0,
    **_: Any,
) -> BenchResult:
    """Run the support benchmark (see the module docstring)."""
    import os

    from sklearn.model_selection import train_test_split

    from shopml.benchmarks.workspace import open_workspace
    from shopml.support.intents import IntentClassifier
    from shopml.text.embeddings import nlp_available

    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    if sum(x is not None for x in (dataset, workspace, data)) != 1:
        raise ValidationError("give exactly one of dataset, workspace or data")
    models = list(models or DEFAULT_MODELS)
    unknown = sorted(set(models) - set(ALL_MODELS))
    if unknown:
        raise ValidationError(f"unknown support models {unknown}; choose from {list(ALL_MODELS)}")
    notes: list[str] = []
    if not nlp_available():
        dropped = [m for m in models if m.startswith("minilm")]
        models = [m for m in models if not m.startswith("minilm")]
        if dropped:
            notes.append(f"skipped {dropped}: the nlp extra is not installed")
    test_texts = test_y = None
    tags = None
    if data is not None:
        from shopml.text.io import read_labelled

        table = read_labelled(data, text_col, label_col)
        notes.append(table.summary())
        texts, y = table.texts, table.y.astype(str)
        label = Path(data).stem
        if test is not None:
            tt = read_labelled(test, text_col, label_col)
            notes.append(tt.summary())
            test_texts, test_y = tt.texts, tt.y.astype(str)
    else:
        with open_workspace(dataset, workspace) as ws:
            texts, y, tags = _messages_from_workspace(ws)
        label = dataset or Path(str(workspace)).stem
    # an utterance repeated in the file would sit on both sides of the split: keep the first
    first = ~pd.Series(texts).duplicated().to_numpy()
    if not first.all():
        notes.append(f"{int((~first).sum())} repeated messages dropped (the first kept)")
        keep = np.flatnonzero(first)
        texts, y = [texts[i] for i in keep], y[keep]
        tags = None if tags is None else tags[keep]
    if quick:
        keep = np.sort(
            np.random.default_rng(seed).choice(len(texts), min(len(texts), 1500), replace=False)
        )
        texts, y = [texts[i] for i in keep], y[keep]

    held = held_out_intents(y, n_held_out, seed)
    in_scope = ~np.isin(y, held)
    idx = np.flatnonzero(in_scope)
    if test_texts is None:
        counts = np.unique(y[idx], return_counts=True)[1]
        strat = y[idx] if counts.min() >= 2 else None
        tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=strat)
        tr_t, ytr = [texts[i] for i in tr], y[tr]
        te_t, yte = [texts[i] for i in te], y[te]
        oos_t = [texts[i] for i in np.flatnonzero(~in_scope)]
        protocol = f"stratified split of in-scope messages, {int(100 * test_fraction)}% test"
    else:
        tr_t, ytr = [texts[i] for i in idx], y[idx]
        te_in = ~np.isin(test_y, held)
        te_t, yte = [t for t, k in zip(test_texts, te_in, strict=True) if k], test_y[te_in]
        oos_t = [t for t, k in zip(test_texts, te_in, strict=True) if not k]
        protocol = "train file -> test file"
    protocol += (
        f"; out of scope: intents {held} held out of training entirely (seed {seed}), "
        f"{len(oos_t)} messages"
        if held
        else "; fewer than 6 intents: no out-of-scope test"
    )
    protocol += "; model selection, calibration and threshold on a validation part of training"
    result = BenchResult("support", label, protocol, notes=notes)
    result.notes.append(
        f"{len(ytr)} training, {len(yte)} in-scope test messages, {len(np.unique(ytr))} intents"
    )
    from collections import Counter

    majority = Counter(ytr.tolist()).most_common(1)[0][0]
    from sklearn.metrics import f1_score

    result.rows.append(
        Row(
            "majority (baseline)",
            {
                "accuracy": float(np.mean(yte == majority)),
                "macro_f1": float(
                    f1_score(yte, np.full(len(yte), majority), average="macro", zero_division=0)
                ),
            },
        )
    )
    for name in models:
        params = {"max_seconds": finetune_seconds} if name == "minilm-finetune" else {}
        clf = IntentClassifier(model=name, model_params=params, seed=seed)
        t0 = time.perf_counter()
        clf.fit(tr_t, ytr)
        t1 = time.perf_counter()
        m, extra = evaluate(clf, te_t, yte, oos_t)
        t2 = time.perf_counter()
        extra["validation"] = clf.validation_
        result.rows.append(
            Row(
                name,
                m,
                False,
                round(t1 - t0, 2),
                round(t2 - t1, 2),
                {"model": name, **params},
                extra,
            )
        )
    if tags is not None and not quick:
        check = frustration_check(texts, y, tags)
        result.rows.append(Row("frustration flags (cue phrases)", {}, False, extra=check))
        result.notes.append(
            "frustration: anger flag recall on Bitext's W (offensive) messages "
            f"{_f3(check['anger_recall_on_offensive'])}, "
            f"precision {_f3(check['anger_precision_vs_offensive'])}; "
            "disappointment and urgency have no labels here (rates per intent in the row's extra)"
        )
    if out is not None:
        result.write(out)
    return result
