"""`shopml bench text`: review sentiment on VADER's snippets, Amazon reviews, a workspace or a file.

Protocols (one per kind of target; ``--dataset``, ``--workspace`` and ``--data`` run the same):

- **scores** (``vader-snippets``: the mean of 20 human ratings on -4..4): 5-fold cross-validation
  grouped by review (the id is ``<review>_<sentence>``, so no review has sentences on both sides).
  Metrics: Pearson correlation of the predicted score with the human mean, and polarity accuracy
  on the sentences whose human mean is not 0 (polarity = sign). Models learn either the score
  itself (regression) or its sign (``... (polarity)``: classes negative / neutral / positive).
- **stars** (``amazon-reviews``: 1-5 stars): one split by product (20% of the products are test,
  so no product's reviews are on both sides). Metrics: macro-F1 and accuracy of the stars, MAE of
  the stars, polarity macro-F1 (1-2 negative, 3 neutral, 4-5 positive) and per-class F1.
- **labels** (a file with ``--label-col``): accuracy and macro-F1 on a stratified split.

With ``--data FILE --test FILE`` the models train on the first file and are scored on the second;
without a test file the split above is drawn from the one file. Every model chooses its
hyper-parameters on a validation part of its training rows only. The VADER lexicon
(``vadersentiment``, the ``bench`` extra) runs as the peer on the same rows.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import DataError, ValidationError

ALL_MODELS = (
    "tfidf",
    "tfidf-polarity",
    "minilm-linear",
    "minilm-linear-polarity",
    "minilm-mlp",
    "minilm-finetune",
)


def _make(name: str, seed: int, finetune_seconds: float, finetune_epochs: int):
    from shopml.text.models import make_model

    base = name.removesuffix("-polarity")
    params: dict[str, Any] = {"seed": seed}
    if base == "minilm-finetune":
        params.update(max_seconds=finetune_seconds, epochs=finetune_epochs)
    return make_model(base, **params)


def _vader_scores(texts: list[str]) -> np.ndarray | None:
    """VADER's compound score in [-1, 1], or None when the package is missing."""
    try:
        from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer
    except ImportError:
        return None
    sia = SentimentIntensityAnalyzer()
    return np.array([sia.polarity_scores(t)["compound"] for t in texts])  # a library loop


def _polarity3(y: np.ndarray) -> np.ndarray:
    return np.where(y > 0, "positive", np.where(y < 0, "negative", "neutral"))


# --------------------------------------------------------------------------- data
def _from_workspace(ws) -> tuple[pd.DataFrame, str]:
    df = ws.sql(
        "SELECT review_id, item_id, rating, sentiment, "
        "trim(coalesce(title || '. ', '') || coalesce(text, '')) AS text FROM reviews"
    )
    df = df[df["text"].fillna("").str.strip().str.len() > 0]
    if df["rating"].notna().sum() >= 20:
        return df[df["rating"].notna()].reset_index(drop=True), "stars"
    if df["sentiment"].notna().sum() >= 20:
        return df[df["sentiment"].notna()].reset_index(drop=True), "scores"
    raise DataError("the workspace's reviews hold fewer than 20 texts with a rating or a sentiment")


# --------------------------------------------------------------------------- metrics
def _score_metrics(y: np.ndarray, pred: np.ndarray) -> dict[str, float]:
    nz = y != 0
    return {
        "pearson": float(np.corrcoef(pred, y)[0, 1]) if np.ptp(pred) > 0 else 0.0,
        "polarity_acc_nonzero": float(np.mean(np.sign(pred[nz]) == np.sign(y[nz]))),
    }


def _stars_metrics(y: np.ndarray, stars: np.ndarray, pol: np.ndarray) -> tuple[dict, dict]:
    from sklearn.metrics import accuracy_score, f1_score

    y = y.astype(int)
    ypol = np.where(y <= 2, "negative", np.where(y == 3, "neutral", "positive"))
    labels = sorted(set(y.tolist()))
    per = f1_score(y, stars, labels=labels, average=None, zero_division=0)
    m = {
        "stars_macro_f1": float(
            f1_score(y, stars, average="macro", labels=labels, zero_division=0)
        ),
        "stars_accuracy": float(accuracy_score(y, stars)),
        "stars_mae": float(np.mean(np.abs(stars - y))),
        "polarity_macro_f1": float(f1_score(ypol, pol, average="macro", zero_division=0)),
    }
    return m, {
        "f1_per_star": {str(k): round(float(v), 4) for k, v in zip(labels, per, strict=True)}
    }


def _label_metrics(y: np.ndarray, pred: np.ndarray) -> tuple[dict, dict]:
    from sklearn.metrics import accuracy_score, f1_score

    labels = sorted(set(y.tolist()))
    per = f1_score(y, pred, labels=labels, average=None, zero_division=0)
    return (
        {
            "accuracy": float(accuracy_score(y, pred)),
            "macro_f1": float(f1_score(y, pred, average="macro", zero_division=0)),
        },
        {"f1_per_class": {str(k): round(float(v), 4) for k, v in zip(labels, per, strict=True)}},
    )


# --------------------------------------------------------------------------- protocols
def _run_scores(texts, y, groups, models, seed, folds, ft_s, ft_e, result, test=None) -> None:
    """Grouped k-fold CV (or train/test) on a continuous sentiment."""
    from sklearn.model_selection import GroupKFold, KFold

    n = len(texts)
    if test is not None:
        splits = [(np.arange(n), None)]
    elif groups is not None:
        splits = list(GroupKFold(n_splits=folds).split(np.zeros(n), y, groups))
    else:
        splits = list(KFold(folds, shuffle=True, random_state=seed).split(np.zeros(n)))
    eval_texts, eval_y = (test[0], test[1]) if test is not None else (texts, y)
    for name in models:
        preds = np.zeros(len(eval_y))
        fit_s = pred_s = 0.0
        params: dict[str, Any] = {}
        for tr, te in splits:
            te_idx = np.arange(len(eval_y)) if te is None else te
            ytr = y[tr]
            target = _polarity3(ytr) if name.endswith("-polarity") else ytr
            model = _make(name, seed, ft_s, ft_e)
            model.set_params(target="classes" if name.endswith("-polarity") else "score")
            t0 = time.perf_counter()
            model.fit([texts[i] for i in tr], target)
            t1 = time.perf_counter()
            preds[te_idx] = model.score([eval_texts[i] for i in te_idx])
            pred_s += time.perf_counter() - t1
            fit_s += t1 - t0
            params = model.get_params()
        result.rows.append(
            Row(
                name,
                _score_metrics(eval_y, preds),
                False,
                round(fit_s, 2),
                round(pred_s, 2),
                _jsonable(params),
            )
        )
    v = _vader_scores(eval_texts)
    if v is None:
        result.notes.append("VADER peer skipped: pip install 'shopml[bench]' (vadersentiment)")
    else:
        result.rows.append(Row("vader (lexicon)", _score_metrics(eval_y, v), True))


def _run_classes(tr_texts, ytr, te_texts, yte, stars, models, seed, ft_s, ft_e, result) -> None:
    """Fit on the training rows, score the test rows (stars or labels)."""
    from collections import Counter

    majority = Counter(ytr.tolist()).most_common(1)[0][0]
    base = np.full(len(yte), majority, dtype=yte.dtype)
    if stars:
        yte_i = yte.astype(int)
        m, extra = _stars_metrics(
            yte_i, base.astype(int), np.full(len(yte), _pol_of_star(majority))
        )
    else:
        m, extra = _label_metrics(yte, base)
    result.rows.append(Row("majority (baseline)", m, False, extra=extra))
    for name in models:
        if name.endswith("-polarity"):
            continue  # these learn the sign of a score; the stars are the target here
        model = _make(name, seed, ft_s, ft_e)
        model.set_params(target="classes")
        t0 = time.perf_counter()
        model.fit(tr_texts, ytr.astype(int) if stars else ytr)
        t1 = time.perf_counter()
        if stars:
            m, extra = _stars_metrics(
                yte.astype(int), model.stars(te_texts), model.polarity(te_texts)
            )
        else:
            m, extra = _label_metrics(yte, model.predict(te_texts))
        t2 = time.perf_counter()
        result.rows.append(
            Row(
                name,
                m,
                False,
                round(t1 - t0, 2),
                round(t2 - t1, 2),
                _jsonable(model.get_params()),
                extra,
            )
        )
    if stars:
        v = _vader_scores(te_texts)
        if v is None:
            result.notes.append("VADER peer skipped: pip install 'shopml[bench]' (vadersentiment)")
        else:
            vs = np.clip(np.rint(3 + 2 * v), 1, 5).astype(int)
            vp = np.where(v >= 0.05, "positive", np.where(v <= -0.05, "negative", "neutral"))
            m, extra = _stars_metrics(yte.astype(int), vs, vp)
            result.rows.append(Row("vader (lexicon)", m, True, extra=extra))


def _pol_of_star(s: Any) -> str:
    s = float(s)
    return "negative" if s <= 2 else "neutral" if s == 3 else "positive"


def _dedupe(texts, y, groups, items, notes):
    """Keep the first of identical texts (reported in ``notes``)."""
    first = ~pd.Series(texts).duplicated().to_numpy()
    if first.all():
        return texts, y, groups, items
    notes.append(
        f"{int((~first).sum())} rows repeat an earlier text and were dropped "
        f"({int(first.sum())} distinct texts kept)"
    )
    keep = np.flatnonzero(first)
    return (
        [texts[i] for i in keep],
        y[keep],
        None if groups is None else groups[keep],
        None if items is None else items[keep],
    )


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in params.items() if isinstance(v, str | int | float | bool | type(None))}


def _load(dataset, workspace, data, test, text_col, label_col, rating_col, notes):
    """(texts, y, kind, label, review groups, items, test set) from a file or a workspace."""
    from shopml.benchmarks.workspace import open_workspace

    groups = test_set = None
    if data is not None:
        from shopml.text.io import read_labelled

        table = read_labelled(data, text_col, label_col, rating_col)
        notes.append(table.summary())
        texts, y = table.texts, table.y
        label = Path(data).stem
        if test is not None:
            tt = read_labelled(test, text_col, label_col, rating_col)
            notes.append(tt.summary())
            test_set = (tt.texts, tt.y)
        if label_col is not None:
            kind = "labels"
        else:
            from shopml.text.base import infer_target

            kind = "stars" if infer_target(y) == "classes" else "scores"
        items = None
    else:
        with open_workspace(dataset, workspace) as ws:
            df, kind = _from_workspace(ws)
        label = dataset or Path(str(workspace)).stem
        texts = df["text"].astype(str).tolist()
        items = df["item_id"].to_numpy() if df["item_id"].notna().all() else None
        if kind == "scores":
            y = df["sentiment"].to_numpy(np.float64)
            ids = df["review_id"].astype(str)
            if ids.str.contains("_").all():
                groups = ids.str.split("_").str[0].to_numpy()
        else:
            y = df["rating"].to_numpy(np.float64)
    return texts, y, kind, label, groups, items, test_set


@suite("text")
def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    test: str | Path | None = None,
    out: str | Path | None = None,
    text_col: str = "text",
    label_col: str | None = None,
    rating_col: str | None = None,
    models: list[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    folds: int = 5,
    test_fraction: float = 0.2,
    finetune_seconds: float = 600.0,
    finetune_epochs: int = 3,
    **_: Any,
) -> BenchResult:
    """Run the text benchmark (see the module docstring)."""
    import os

    from shopml.text.embeddings import nlp_available

    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    if sum(x is not None for x in (dataset, workspace, data)) != 1:
        raise ValidationError("give exactly one of dataset, workspace or data")
    models = list(models or ALL_MODELS)
    unknown = sorted(set(models) - set(ALL_MODELS))
    if unknown:
        raise ValidationError(f"unknown text models {unknown}; choose from {list(ALL_MODELS)}")
    notes: list[str] = []
    if not nlp_available():
        dropped = [m for m in models if m.startswith("minilm")]
        models = [m for m in models if not m.startswith("minilm")]
        if dropped:
            notes.append(f"skipped {dropped}: the nlp extra is not installed")
    if quick:
        finetune_seconds, finetune_epochs = min(finetune_seconds, 60.0), 1

    texts, y, kind, label, groups, items, test_set = _load(
        dataset, workspace, data, test, text_col, label_col, rating_col, notes
    )
    # the same text twice (Amazon lists one review under every variant of a product: 74% of
    # the All_Beauty 5-core rows repeat a text) would sit on both sides of any split
    texts, y, groups, items = _dedupe(texts, y, groups, items, notes)
    if quick:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(len(texts), min(len(texts), 800), replace=False))
        texts, y = [texts[i] for i in keep], y[keep]
        groups = None if groups is None else groups[keep]
        items = None if items is None else items[keep]

    if kind == "scores":
        protocol = (
            f"{folds}-fold CV grouped by review; Pearson with the human mean, polarity accuracy on "
            "sentences whose mean is not 0"
            if test_set is None and groups is not None
            else (
                f"{folds}-fold CV (random rows)" if test_set is None else "train file -> test file"
            )
            + "; Pearson, polarity accuracy on non-zero scores"
        )
        result = BenchResult("text", label, protocol, notes=notes)
        _run_scores(
            texts,
            y,
            groups,
            models,
            seed,
            folds,
            finetune_seconds,
            finetune_epochs,
            result,
            test_set,
        )
    else:
        from sklearn.model_selection import GroupShuffleSplit, train_test_split

        stars = kind == "stars"
        if test_set is not None:
            tr_t, ytr, te_t, yte = texts, y, test_set[0], test_set[1]
            protocol = "train file -> test file"
        else:
            idx = np.arange(len(texts))
            if items is not None and stars and len(np.unique(items)) >= 5:
                gss = GroupShuffleSplit(1, test_size=test_fraction, random_state=seed)
                tr, te = next(gss.split(idx, y, items))
                protocol = (
                    f"split by product: {len(np.unique(items[te]))} of "
                    f"{len(np.unique(items))} products ({len(te)} reviews) are test"
                )
            else:
                strat = y if (np.unique(y, return_counts=True)[1].min() >= 2) else None
                tr, te = train_test_split(
                    idx, test_size=test_fraction, random_state=seed, stratify=strat
                )
                protocol = f"stratified split, {int(100 * test_fraction)}% test ({len(te)} rows)"
            tr_t, ytr = [texts[i] for i in tr], y[tr]
            te_t, yte = [texts[i] for i in te], y[te]
        protocol += "; model selection on a validation part of the training rows"
        result = BenchResult("text", label, protocol, notes=notes)
        if stars:
            dist = pd.Series(yte).value_counts(normalize=True).sort_index()
            result.notes.append(
                "test star shares: " + ", ".join(f"{int(k)}: {v:.1%}" for k, v in dist.items())
            )
        _run_classes(
            tr_t, ytr, te_t, yte, stars, models, seed, finetune_seconds, finetune_epochs, result
        )
    if out is not None:
        result.write(out)
    return result
