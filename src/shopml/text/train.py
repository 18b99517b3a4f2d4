"""Train, load and batch-score sentiment models for the ``text`` capability spec.

``train`` reads the workspace's ``reviews`` (stars when they have ratings, else the continuous
``sentiment``) or a file (``data=``, ``text_col=``, ``label_col=`` or ``rating_col=``), holds out
a validation part (15%, stratified) to report honest metrics, fits on the rest and registers the
model as ``text/<name>``. ``batch`` scores every review of a workspace into Parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError
from shopml.core.persist import atomic_write_parquet
from shopml.text.base import SentimentModel, infer_target, validation_split

REVIEWS_SQL = (
    "SELECT review_id, item_id, rating, sentiment, "
    "trim(coalesce(title || '. ', '') || coalesce(text, '')) AS text FROM reviews"
)


def training_data(
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    text_col: str = "text",
    label_col: str | None = None,
    rating_col: str | None = None,
) -> tuple[list[str], np.ndarray, dict[str, Any]]:
    """(texts, y, info) from a file or the workspace's reviews; skipped rows are counted in info."""
    if data is not None:
        from shopml.text.io import read_labelled

        if label_col is None and rating_col is None:
            rating_col = "rating"
        t = read_labelled(data, text_col, label_col, rating_col)
        info = {
            "source": str(data),
            "rows": len(t.texts),
            "skipped": len(t.skipped),
            "skipped_reasons": t.skipped["reason"].value_counts().to_dict(),
        }
        return t.texts, t.y, info
    from shopml.data.workspace import Workspace

    if workspace is None or not Path(workspace).exists():
        raise DataError(f"workspace {workspace} does not exist")
    with Workspace(workspace, read_only=True) as ws:
        df = ws.sql(REVIEWS_SQL)
        fp = ws.fingerprint("reviews")
    empty = df["text"].fillna("").str.strip() == ""
    df = df[~empty]
    target = "rating" if df["rating"].notna().sum() >= 20 else "sentiment"
    df = df[df[target].notna()]
    if len(df) < 20:
        raise DataError(
            "the workspace has fewer than 20 reviews with text and a rating or sentiment"
        )
    return (
        df["text"].astype(str).tolist(),
        df[target].to_numpy(np.float64),
        {
            "source": str(workspace),
            "target": target,
            "rows": len(df),
            "skipped": int(empty.sum()),
            "skipped_reasons": {"empty text": int(empty.sum())},
            "fingerprint": fp,
        },
    )


def train(
    workspace: str | Path | None,
    registry: Any,
    model: str = "tfidf",
    name: str | None = None,
    params: dict[str, Any] | None = None,
    data: str | Path | None = None,
    text_col: str = "text",
    label_col: str | None = None,
    rating_col: str | None = None,
    validation_fraction: float = 0.15,
    seed: int = 0,
    **_: Any,
):
    """Fit ``model`` on reviews (or a file), report validation metrics, register ``text/<name>``."""
    from sklearn.metrics import f1_score

    from shopml.registry import Registry
    from shopml.text.models import make_model

    texts, y, info = training_data(workspace, data, text_col, label_col, rating_col)
    m = make_model(model, **{"seed": seed, **(params or {})})
    kind = infer_target(y) if y.dtype.kind in "biuf" else "classes"
    codes = np.unique(y, return_inverse=True)[1] if kind == "classes" else y
    tr, va = validation_split(codes, validation_fraction, seed, kind)
    m.fit([texts[i] for i in tr], y[tr])
    vt = [texts[i] for i in va]
    metrics: dict[str, Any] = {"train_rows": len(tr), "validation_rows": len(va)}
    if m.kind_ == "classes":
        pred = m.predict(vt)
        metrics["validation_accuracy"] = float(np.mean(pred == y[va]))
        metrics["validation_macro_f1"] = float(f1_score(y[va], pred, average="macro"))
        if y.dtype.kind in "biuf" and np.nanmax(y) <= 5:
            metrics["validation_stars_mae"] = float(np.mean(np.abs(m.stars(vt) - y[va])))
    else:
        p = m.predict(vt)
        metrics["validation_pearson"] = float(np.corrcoef(p, y[va])[0, 1])
        nz = y[va] != 0
        metrics["validation_polarity_acc_nonzero"] = float(
            np.mean(np.sign(p[nz]) == np.sign(y[va][nz]))
        )
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    return reg.register(
        "text",
        name or "sentiment",
        lambda folder: m.save(folder),
        config={
            "model": model,
            "params": m.get_params(),
            "source": info["source"],
            "target": m.kind_,
            "skipped": info.get("skipped_reasons", {}),
        },
        metrics=metrics,
        data_fingerprint=info.get("fingerprint"),
    )


def load(version: Any, ctx: Any = None) -> SentimentModel:
    """The registered sentiment model (no refitting); it keeps the service's workspace opener
    (``open_workspace``) so the aspects route can read a product's reviews."""
    model = SentimentModel.load(version.path)
    model.open_workspace = getattr(ctx, "open_workspace", None)
    return model


def score_reviews(model: SentimentModel, reviews: pd.DataFrame) -> pd.DataFrame:
    """Sentiment and frustration flags for every review with text (empty ones are skipped)."""
    from shopml.text.frustration import frustration_flags

    reviews = reviews[reviews["text"].fillna("").str.strip() != ""].reset_index(drop=True)
    texts = reviews["text"].astype(str).tolist()
    out = model.analyze(texts)
    flags = frustration_flags(texts, out["score"].to_numpy())
    return pd.concat(
        [
            reviews[["review_id", "item_id"]],
            out,
            flags[[c for c in flags.columns if c.endswith("_flag")]],
        ],
        axis=1,
    )


def batch(
    registry: Any,
    workspace: str | Path,
    out: str | Path,
    engine: str = "local",
    name: str = "sentiment",
    **_: Any,
) -> Path:
    """Score every review of ``workspace`` with ``text/<name>`` into the Parquet file ``out``."""
    from shopml.data.workspace import Workspace
    from shopml.registry import Registry

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    version = reg.verify(reg.latest("text", name))
    model = load(version)
    with Workspace(workspace, read_only=True) as ws:
        reviews = ws.sql(REVIEWS_SQL)
    scored = score_reviews(model, reviews)
    scored["model"] = f"text/{name}/{version.version}"
    return atomic_write_parquet(out, scored)
