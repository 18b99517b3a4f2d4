"""Train, register, load and batch-score the vision capability's image classifiers.

Training data comes from a workspace (``items`` with ``image_path`` and a ``category``) or
straight from files (``data``: a folder with one sub-folder per class, or a CSV of
``path,label``). The registered version holds the model (``model/``, weights in safetensors)
and ``catalogue.npz``: the embedding and predicted class of every catalogue image, computed
once at training time, so the service answers "similar-looking items" without decoding the
catalogue again at load.
"""

from __future__ import annotations

import io
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.core.persist import atomic_write_bytes, atomic_write_parquet
from shopml.registry import ModelVersion, Registry
from shopml.vision.base import ImageClassifier
from shopml.vision.io import decode_many, decode_one, read_labelled_images
from shopml.vision.models import MODELS

MODEL_DIR = "model"
CATALOGUE = "catalogue.npz"
CAPABILITY = "vision"

ITEMS_SQL = (
    "SELECT item_id, category, image_path FROM items "
    "WHERE image_path IS NOT NULL AND image_path <> '' ORDER BY item_id"
)


def make_model(model: str, params: dict[str, Any] | None = None) -> ImageClassifier:
    """A fresh model by name with ``params``."""
    if model not in MODELS:
        raise ValidationError(f"no vision model {model!r}; there is {sorted(MODELS)}")
    params = dict(params or {})
    for k in ("widths", "blocks"):  # CLI and YAML give lists
        if isinstance(params.get(k), list | str):
            v = params[k]
            params[k] = tuple(int(x) for x in (v.split("/") if isinstance(v, str) else v))
    known = MODELS[model]().get_params()
    bad = sorted(set(params) - set(known))
    if bad:
        raise ValidationError(f"{model} has no parameter(s) {bad}; it takes {sorted(known)}")
    return MODELS[model](**params)


def workspace_items(workspace: str | Path) -> tuple[pd.DataFrame, str]:
    """Catalogue rows with an image (``item_id, category, image_path``) and the items'
    fingerprint."""
    from shopml.data.workspace import Workspace

    with Workspace(workspace, read_only=True) as ws:
        items = ws.sql(ITEMS_SQL)
        fingerprint = ws.fingerprint("items")
    if items.empty:
        raise DataError(f"workspace {workspace} has no items with an image_path")
    return items, fingerprint


def train(
    workspace: str | Path | None,
    registry: str | Path | Registry,
    model: str = "cnn",
    *,
    name: str = "classifier",
    data: str | Path | None = None,
    params: dict[str, Any] | None = None,
    **options: Any,
) -> ModelVersion:
    """Fit ``model`` on labelled images and register it as ``vision/<name>``.

    From ``data`` (a class-per-folder tree or a ``path,label`` CSV) when given, else from the
    workspace's items that have an image and a category. Catalogue embeddings are computed for
    every image of the workspace (or of ``data``) and stored with the model. Other ``options``
    are model parameters too.
    """
    clf = make_model(model, {**(params or {}), **options})
    if data is not None:
        paths, labels = read_labelled_images(data)
        catalogue = pd.DataFrame(
            {"item_id": [Path(p).stem for p in paths], "image_path": paths, "category": labels}
        )
        fingerprint: Any = {"data": str(Path(data).resolve()), "images": len(paths)}
    elif workspace is not None:
        catalogue, fp = workspace_items(workspace)
        fingerprint = {"items": fp}
        labelled = catalogue[catalogue["category"].notna() & (catalogue["category"] != "")]
        if labelled.empty:
            raise DataError(f"workspace {workspace} has no items with both an image and a category")
        paths, labels = labelled["image_path"].tolist(), labelled["category"].to_numpy(dtype=str)
    else:
        raise ValidationError("give a workspace or data (a folder of class sub-folders or a CSV)")
    t0 = time.perf_counter()
    clf.fit(paths, labels)
    fit_seconds = time.perf_counter() - t0
    cat = score_catalogue(clf, catalogue)
    reg = registry if isinstance(registry, Registry) else Registry(registry)

    metrics = {
        "images": len(paths) - len(clf.skipped_),
        "skipped": len(clf.skipped_),
        "classes": len(clf.classes_),
        "fit_seconds": round(fit_seconds, 2),
        "catalogue_images": int(cat["error"].isna().sum()),
    }
    val = _validation_accuracy(clf)
    if val is not None:
        metrics["validation_accuracy"] = val
    return reg.register(
        CAPABILITY,
        name,
        lambda folder: write_version(folder, clf, cat),
        config={
            "model": model,
            "params": clf._saved_params(),
            "classes": list(clf.classes_),
            "data": None if data is None else str(data),
            "skipped": clf.skipped_[:20],
        },
        metrics=metrics,
        data_fingerprint=fingerprint,
    )


def write_version(folder: Path, clf: ImageClassifier, cat: pd.DataFrame) -> None:
    """Write a registered version: the model (``model/``) and the catalogue's embeddings,
    predicted classes and confidences (``catalogue.npz``, rows whose image was readable)."""
    clf.save(folder / MODEL_DIR)
    ok = cat[cat["error"].isna()]
    emb = (
        np.stack(ok["embedding"].to_numpy()).astype(np.float32)
        if len(ok)
        else np.zeros((0, 1), np.float32)
    )
    buf = io.BytesIO()
    np.savez(
        buf,
        item_ids=ok["item_id"].to_numpy(dtype=str),
        embeddings=emb,
        predicted=ok["predicted_category"].to_numpy(dtype=str),
        confidence=ok["confidence"].to_numpy(dtype=np.float64),
    )
    atomic_write_bytes(folder / CATALOGUE, buf.getvalue())


def _validation_accuracy(clf: ImageClassifier) -> float | None:
    """Accuracy on the validation part carved from the training images (model selection)."""
    hist = getattr(clf, "history_", None)
    if hist:
        vals = [h["val_accuracy"] for h in hist if "val_accuracy" in h]
        return float(max(vals)) if vals else None
    v = getattr(clf, "validation_accuracy_", None)
    return None if v is None else float(v)


def score_catalogue(
    clf: ImageClassifier, catalogue: pd.DataFrame, batch: int = 256
) -> pd.DataFrame:
    """Predicted class, confidence and embedding of every catalogue image; unreadable images
    get their reason in ``error`` (and no prediction) instead of stopping the run."""
    out = catalogue[["item_id", "image_path"]].copy().reset_index(drop=True)
    if "category" in catalogue:
        out["category"] = catalogue["category"].to_numpy()
    n = len(out)
    pred = np.full(n, None, dtype=object)
    conf = np.full(n, np.nan)
    emb = np.full(n, None, dtype=object)
    err = np.full(n, None, dtype=object)
    paths = out["image_path"].tolist()
    for b in range(0, n, batch):  # batches bound memory for a catalogue of any size
        dec = decode_many(paths[b : b + batch], clf._decode_size(), skip_bad=True)
        for pos, _, reason in dec.skipped:
            err[b + pos] = reason
        if len(dec.index):
            p, e = clf.predict_decoded(dec.images)
            rows = b + dec.index
            pred[rows] = clf.classes_[p.argmax(axis=1)]
            conf[rows] = p.max(axis=1)
            emb[rows] = list(e)
    out["predicted_category"] = pred
    out["confidence"] = conf
    out["embedding"] = emb
    out["error"] = err
    return out


@dataclass
class VisionService:
    """What the service keeps for a registered classifier: the model and the catalogue's
    embeddings (for similar-looking items)."""

    model: ImageClassifier
    item_ids: np.ndarray
    embeddings: np.ndarray
    predicted: np.ndarray
    confidence: np.ndarray

    def __post_init__(self) -> None:
        self._pos = {str(i): k for k, i in enumerate(self.item_ids)}

    def classify(self, images: list[Any], k: int = 3) -> list[dict[str, Any]]:
        """Top-``k`` classes with probabilities for each image (paths, bytes or arrays)."""
        k = max(1, min(int(k), len(self.model.classes_)))
        p = self.model.predict_proba(images)
        top = np.argsort(-p, axis=1)[:, :k]
        return [
            {
                "label": str(self.model.classes_[t[0]]),
                "confidence": float(row[t[0]]),
                "top": [
                    {"label": str(self.model.classes_[j]), "probability": float(row[j])} for j in t
                ],
            }
            for row, t in zip(p, top, strict=True)
        ]

    def similar(self, item_id: str, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` catalogue items that look most like ``item_id`` (itself excluded):
        ``(item_ids, cosine similarities)``. :class:`KeyError` for an item without an
        embedding."""
        pos = self._pos[str(item_id)]
        return self._nearest(self.embeddings[pos], k, exclude=pos)

    def similar_to_image(self, image: Any, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` catalogue items that look most like an uploaded image."""
        return self._nearest(self.model.embed([image])[0], k)

    def _nearest(
        self, v: np.ndarray, k: int, exclude: int | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        s = self.embeddings @ v
        if exclude is not None:
            s[exclude] = -np.inf
        k = max(0, min(int(k), len(s) - (exclude is not None)))
        if k == 0:
            return self.item_ids[:0], s[:0]
        top = np.argpartition(-s, k - 1)[:k]
        top = top[np.argsort(-s[top], kind="stable")]
        return self.item_ids[top], s[top]


def load(version: ModelVersion, ctx: Any = None) -> VisionService:
    """The registered classifier with its stored catalogue embeddings (no refit, no decoding)."""
    path = Path(version.path)
    model = ImageClassifier.load(path / MODEL_DIR)
    with np.load(path / CATALOGUE, allow_pickle=False) as z:
        return VisionService(
            model,
            z["item_ids"].astype(str),
            z["embeddings"].astype(np.float32),
            z["predicted"].astype(str),
            z["confidence"],
        )


def classify_paths(
    service: VisionService, paths: list[str | Path], k: int = 3
) -> list[dict[str, Any]]:
    """Classify files one by one so that an unreadable file gets its reason, not a crash."""
    out = []
    for p in paths:
        try:
            decode_one(p, service.model._decode_size())
        except (DataError, ValidationError) as exc:
            out.append({"path": str(p), "error": str(exc)})
            continue
        out.append({"path": str(p), **service.classify([str(p)], k)[0]})
    return out


def batch(
    registry: Any,
    workspace: str | Path,
    out: str | Path,
    engine: str = "local",
    name: str | None = "classifier",
    **_: Any,
) -> Path:
    """Every catalogue image of ``workspace`` -> predicted class, confidence, embedding, into
    the Parquet file ``out``. Items without a category get it as ``suggested_category``
    (auto-tagging); unreadable images get their reason in ``error``."""
    if engine != "local":
        raise ValidationError(f"the vision batch job runs with engine 'local', got {engine!r}")
    name = name or "classifier"  # `shopml batch vision` passes None for the default model
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    version = reg.verify(reg.latest(CAPABILITY, name))
    service = load(version)
    items, _ = workspace_items(workspace)
    scored = score_catalogue(service.model, items)
    scored["suggested_category"] = auto_tags(scored)
    scored["embedding"] = [None if e is None else e.tolist() for e in scored["embedding"]]
    scored["model"] = f"{CAPABILITY}/{name}/{version.version}"
    return atomic_write_parquet(out, scored)


def auto_tags(scored: pd.DataFrame, min_confidence: float = 0.0) -> pd.Series:
    """The predicted class for items that have no category (and a readable image with
    ``confidence >= min_confidence``); None elsewhere."""
    cat = scored["category"] if "category" in scored else pd.Series(None, index=scored.index)
    missing = cat.isna() | (cat.astype(str).str.strip() == "")
    ok = missing & scored["predicted_category"].notna() & (scored["confidence"] >= min_confidence)
    return scored["predicted_category"].where(ok, None)


__all__ = [
    "VisionService",
    "auto_tags",
    "batch",
    "classify_paths",
    "load",
    "make_model",
    "score_catalogue",
    "train",
    "write_version",
]
