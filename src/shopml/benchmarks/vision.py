"""Benchmark suite for product-image classification (``shopml bench vision``).

Protocol (the same for ``--dataset``, ``--workspace`` and ``--data``):

- images and labels come from the workspace's ``items`` (``image_path``, ``category``; a
  ``split`` in ``attributes`` when the loader recorded one: ``clothing-images`` has
  ``train``/``validation``), or from ``data`` (a class-per-folder tree or a ``path,label``
  CSV) with an optional ``test`` set in the same form;
- training images: the ``train`` split (or ``data``); reported images: the ``validation``
  split (else ``test``; or the ``test`` argument); with no split, a stratified 80/20 split
  drawn with ``seed``. Model selection (the CNN's best epoch, LightGBM's boosting rounds) uses a
  validation part carved from the training images only;
- unreadable or truncated images are skipped and counted, with the first reasons in the notes;
- models in the same run: the majority class (what accuracy means here), the non-deep floor
  (HSV colour histograms + HOG-like gradient histograms + LightGBM) and the ResNet trained from
  scratch for a fixed wall-clock budget (``cnn_seconds``; the cosine schedule follows it), with
  its learning curve (per epoch: seconds, training loss, accuracy on the carved validation
  part); ``pretrained=FILE`` adds the same network started from local safetensors weights;
- metrics: accuracy (with a 95% Wilson interval), macro-F1 and per-class F1 on the reported
  images; fit and predict seconds on this machine.
"""

from __future__ import annotations

import math
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import DataError, ValidationError
from shopml.vision.base import stratified_holdout
from shopml.vision.cnn import CNNClassifier
from shopml.vision.floor import HistogramGBMClassifier
from shopml.vision.io import decode_many, read_labelled_images

ALL_MODELS = ("majority", "histogram-gbm", "cnn")


def multiclass_metrics(y: np.ndarray, pred: np.ndarray, classes: np.ndarray) -> dict[str, Any]:
    """Accuracy with a Wilson 95% interval, macro-F1 and per-class F1 (from one confusion
    matrix)."""
    k = len(classes)
    yi = np.searchsorted(classes, y)
    pi = np.searchsorted(classes, pred)
    cm = np.bincount(yi * k + pi, minlength=k * k).reshape(k, k)
    tp = np.diag(cm).astype(float)
    prec = tp / np.maximum(cm.sum(axis=0), 1)
    rec = tp / np.maximum(cm.sum(axis=1), 1)
    f1 = np.where(prec + rec > 0, 2 * prec * rec / np.maximum(prec + rec, 1e-12), 0.0)
    n = len(y)
    acc = float(tp.sum() / n)
    z = 1.96
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    present = cm.sum(axis=1) > 0
    return {
        "accuracy": acc,
        "macro_f1": float(f1[present].mean()),
        "accuracy_ci95": [round(centre - half, 4), round(centre + half, 4)],
        "per_class_f1": {str(c): round(float(v), 4) for c, v in zip(classes, f1, strict=True)},
        "support": {str(c): int(v) for c, v in zip(classes, cm.sum(axis=1), strict=True)},
        "confusion": cm.tolist(),
    }


def _from_workspace(dataset: str | None, workspace: str | Path | None, seed: int):
    from shopml.benchmarks.workspace import open_workspace

    with open_workspace(dataset, workspace) as ws:
        items = ws.sql(
            "SELECT image_path, category, json_extract_string(attributes, '$.split') AS split "
            "FROM items WHERE image_path IS NOT NULL AND category IS NOT NULL ORDER BY item_id"
        )
    if items.empty:
        raise DataError("no items with both an image_path and a category to benchmark on")
    paths = items["image_path"].to_numpy(dtype=str)
    labels = items["category"].to_numpy(dtype=str)
    split = items["split"].fillna("").to_numpy(dtype=str)
    held = "validation" if (split == "validation").any() else "test"
    if (split == "train").any() and (split == held).any():
        tr, te = np.flatnonzero(split == "train"), np.flatnonzero(split == held)
        how = f"the dataset's own split: train on 'train', report on '{held}'"
    else:
        tr, te = _stratified(labels, seed)
        how = f"a stratified 80/20 split (seed {seed})"
    return list(paths[tr]), labels[tr], list(paths[te]), labels[te], how


def _stratified(labels: np.ndarray, seed: int) -> tuple[np.ndarray, np.ndarray]:
    _, codes = np.unique(labels, return_inverse=True)
    return stratified_holdout(codes, 0.2, seed)


@suite("vision")
def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    data: str | Path | None = None,
    test: str | Path | None = None,
    out: str | Path | None = None,
    models: list[str] | None = None,
    quick: bool = False,
    seed: int = 0,
    cnn_seconds: float = 720.0,
    cnn_epochs: int = 60,
    image_size: int = 48,
    widths: tuple[int, ...] = (24, 48, 96),
    blocks: tuple[int, ...] = (1, 1, 1),
    pretrained: str | None = None,
    threads: int = 1,
    **_: Any,
) -> BenchResult:
    """Run the vision benchmark (see the module docstring); ``threads`` torch threads (1 by
    default: on a shared 2-core machine one thread ran 5x faster per step than two)."""
    import torch

    if data_dir is not None:
        os.environ["SHOPML_DATA_DIR"] = str(data_dir)
    if sum(x is not None for x in (dataset, workspace, data)) != 1:
        raise ValidationError("give exactly one of dataset, workspace or data")
    if test is not None and data is None:
        raise ValidationError("test goes with data (train on data, report on test)")
    models = list(models or ALL_MODELS) + (["cnn-pretrained"] if pretrained else [])
    unknown = sorted(set(models) - set(ALL_MODELS) - {"cnn-pretrained"})
    if unknown:
        raise ValidationError(f"unknown vision models {unknown}; there is {list(ALL_MODELS)}")

    if data is not None:
        tr_paths, tr_y = read_labelled_images(data)
        if test is not None:
            te_paths, te_y = read_labelled_images(test)
            how = f"train on {data}, report on {test}"
        else:
            tr_i, te_i = _stratified(tr_y, seed)
            p = np.asarray(tr_paths)
            tr_paths, te_paths, te_y, tr_y = list(p[tr_i]), list(p[te_i]), tr_y[te_i], tr_y[tr_i]
            how = f"a stratified 80/20 split of {data} (seed {seed})"
        name = Path(str(data)).name
    else:
        tr_paths, tr_y, te_paths, te_y, how = _from_workspace(dataset, workspace, seed)
        name = dataset or Path(str(workspace)).stem
    if quick:  # a smoke test: a few images per class, a few seconds of training
        keep_tr, _ = _stratified(tr_y, seed)
        keep_tr = keep_tr[:200]
        tr_paths, tr_y = [tr_paths[i] for i in keep_tr], tr_y[keep_tr]
        te_paths, te_y = te_paths[:100], te_y[:100]
        cnn_seconds, image_size, widths = min(cnn_seconds, 20.0), 32, (8, 16, 32)

    cnn_params = {
        "image_size": image_size,
        "widths": tuple(widths),
        "blocks": tuple(blocks),
        "epochs": cnn_epochs,
        "max_time_s": cnn_seconds,
        "seed": seed,
    }
    floor_params = {"image_size": image_size, "seed": seed}

    result = BenchResult(
        capability="vision",
        dataset=name,
        protocol=(
            f"{how}; model selection on a stratified 15% validation part carved from the "
            f"training images; accuracy and per-class F1 on the reported images; "
            f"CNN {image_size}px, widths {tuple(widths)}, blocks {tuple(blocks)}, trained for at "
            f"most {cnn_seconds:.0f} s wall clock ({threads} torch thread(s))"
        ),
    )
    old_threads = torch.get_num_threads()
    torch.set_num_threads(int(threads))
    try:
        _run_models(
            result, models, tr_paths, tr_y, te_paths, te_y, cnn_params, floor_params, pretrained
        )
    finally:
        torch.set_num_threads(old_threads)
    if out is not None:
        result.write(out)
    return result


def _run_models(
    result, models, tr_paths, tr_y, te_paths, te_y, cnn_params, floor_params, pretrained
) -> None:
    cache: dict[int, tuple] = {}

    def decoded(size: int):
        """Train and reported images decoded once per size (skips reported in the notes)."""
        if size not in cache:
            t0 = time.perf_counter()
            dtr = decode_many(tr_paths, size, skip_bad=True, desc="decoding training images")
            dte = decode_many(te_paths, size, skip_bad=True, desc="decoding reported images")
            secs = time.perf_counter() - t0
            cache[size] = (dtr.images, tr_y[dtr.index], dte.images, te_y[dte.index], secs)
            for what, d in (("training", dtr), ("reported", dte)):
                if d.skipped:
                    reasons = "; ".join(r for _, _, r in d.skipped[:3])
                    result.notes.append(f"{len(d.skipped)} {what} image(s) skipped: {reasons}")
            result.notes.append(
                f"decoded {len(dtr.index)} training and {len(dte.index)} reported images at "
                f"{size}px in {secs:.1f} s"
            )
        return cache[size]

    classes = np.unique(np.concatenate([tr_y, te_y]))
    if "majority" in models:
        _, ytr, _, yte, _ = decoded(CNNClassifier(**cnn_params)._decode_size())
        vals, counts = np.unique(ytr, return_counts=True)
        pred = np.full(len(yte), vals[counts.argmax()])
        m = multiclass_metrics(yte, pred, classes)
        result.rows.append(
            Row(
                "majority",
                _headline(m),
                peer=True,
                fit_seconds=0.0,
                predict_seconds=0.0,
                extra=_extra(m),
            )
        )
    runs = []
    if "histogram-gbm" in models:
        runs.append(("histogram-gbm", HistogramGBMClassifier(**floor_params)))
    if "cnn" in models:
        runs.append(("cnn", CNNClassifier(**cnn_params)))
    if "cnn-pretrained" in models:
        runs.append(("cnn-pretrained", CNNClassifier(**cnn_params, pretrained=pretrained)))
    for label, model in runs:
        Xtr, ytr, Xte, yte, _ = decoded(model._decode_size())
        t0 = time.perf_counter()
        model.fit(Xtr, ytr)
        fit_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        p, _ = model.predict_decoded(Xte)
        pred_s = time.perf_counter() - t0
        m = multiclass_metrics(yte, model.classes_[p.argmax(axis=1)], classes)
        extra = _extra(m)
        if isinstance(model, CNNClassifier):
            hist = model.history_
            extra |= {
                "learning_curve": hist,
                "epochs_run": len(hist),
                "best_epoch": model.best_epoch_,
                "train_seconds": model.train_seconds_,
                "parameters": int(sum(t.numel() for t in model.net_.parameters())),
            }
            shown = list(range(0, len(hist), max(1, math.ceil(len(hist) / 20))))
            shown += [len(hist) - 1] if shown[-1] != len(hist) - 1 else []  # always the last
            curve = ", ".join(
                f"{hist[i]['epoch']}:{hist[i].get('val_accuracy', float('nan')):.3f}"
                f"@{hist[i]['seconds']:.0f}s"
                for i in shown
            )
            result.notes.append(
                f"{label} learning curve (epoch:carved-validation accuracy@seconds): {curve}"
            )
        else:
            extra |= {
                "best_iteration": model.best_iteration_,
                "carved_validation_accuracy": model.validation_accuracy_,
            }
        result.rows.append(
            Row(
                label,
                _headline(m),
                fit_seconds=fit_s,
                predict_seconds=pred_s,
                params=model._saved_params(),
                extra=extra,
            )
        )


def _headline(m: dict[str, Any]) -> dict[str, float]:
    return {"accuracy": m["accuracy"], "macro_f1": m["macro_f1"]}


def _extra(m: dict[str, Any]) -> dict[str, Any]:
    return {k: m[k] for k in ("accuracy_ci95", "per_class_f1", "support", "confusion")}


__all__ = ["ALL_MODELS", "multiclass_metrics", "run"]
