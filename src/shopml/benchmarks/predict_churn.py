"""``shopml bench predict --task churn``: purchase propensity (the complement of churn).

Question: which customers will buy again in the next ``horizon`` days (default 90)? A customer
who does not is the churn the shop wants to prevent.

Protocol (rolling origin). Orders are the completed orders of known customers. For a cutoff
``c`` the rows are the customers with an order on or before ``c``; the features come from
orders up to ``c`` (:func:`shopml.predict.features.purchase_features`: RFM, inter-purchase
times, purchase days and spend in the last 30/90/180 days, spend trend; plus the customer's
country where the workspace has one); the label is 1 if the customer orders in
``(c, c + horizon]``. Test cutoffs are the last ``n_test`` cutoffs whose label window is fully
observed, ``step`` days apart. For a test cutoff ``c`` the model trains on the customer rows of
the cutoffs ``c - horizon - step·j`` (``j = 1..n_train``; their labels end by ``c - step``), and
validates (early stopping, calibration) on cutoff ``c - horizon``, whose labels end at ``c``:
no label the model learns from reaches past the test cutoff. Metrics per test cutoff (AUC,
AUPRC, Brier and log loss of calibrated probabilities, ECE) and their mean over the test
cutoffs.

Models: logistic regression and LightGBM defaults (the floor), LightGBM tuned (early stopping),
the MLP, and shopml's BG/NBD (no labels: the probability of at least one purchase in the
horizon, ``1 - exp(-E[purchases])``, calibrated like the others) as the classic model.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.classify import (
    Candidate,
    evaluate_classifiers,
    paired_rows,
    select_candidates,
)
from shopml.benchmarks.runner import BenchResult, Row
from shopml.benchmarks.workspace import open_workspace
from shopml.core.errors import DataError
from shopml.evaluation.classification import classification_metrics
from shopml.evaluation.splits import LabelledSplit
from shopml.predict.btyd import BGNBD
from shopml.predict.calibration import expected_calibration_error, make_calibrator
from shopml.predict.tasks import churn_frame, churn_orders


def load_orders(dataset: str | None, workspace: str | Path | None) -> pd.DataFrame:
    """Completed orders of known customers: ``user_id, ts, value, country``."""
    with open_workspace(dataset, workspace) as ws:
        return churn_orders(ws)


def cutoffs(orders: pd.DataFrame, horizon: int, step: int, n_test: int, n_train: int) -> list[tuple[pd.Timestamp, pd.Timestamp, list[pd.Timestamp]]]:
    """(test cutoff, validation cutoff, training cutoffs) for each test cutoff, oldest first."""
    first = orders["ts"].min().floor("D")
    last = orders["ts"].max().floor("D")
    out = []
    for k in range(n_test - 1, -1, -1):
        test = last - pd.Timedelta(days=horizon + step * k)
        val = test - pd.Timedelta(days=horizon)
        train = [val - pd.Timedelta(days=step * j) for j in range(1, n_train + 1)]
        train = [c for c in train if c >= first + pd.Timedelta(days=step)]
        if val < first + pd.Timedelta(days=step) or not train:
            raise DataError(
                f"orders span {first.date()}..{last.date()}: too short for a {horizon}-day horizon with "
                f"{n_test} test cutoffs {step} days apart and a training cutoff before validation"
            )
        out.append((test, val, train))
    return out


def _stack(parts: list[tuple[pd.DataFrame, np.ndarray]]) -> tuple[pd.DataFrame, np.ndarray]:
    X = pd.concat([p[0] for p in parts], ignore_index=True)
    return X, np.concatenate([p[1] for p in parts])


def _bgnbd_scores(X: pd.DataFrame, horizon: int, fit_on: pd.DataFrame) -> np.ndarray:
    bg = BGNBD().fit(fit_on["frequency"], fit_on["recency"], fit_on["T"])
    e = bg.predict_purchases(float(horizon), X["frequency"], X["recency"], X["T"])
    return 1.0 - np.exp(-np.asarray(e, dtype=float))


def run(
    dataset: str | None = None,
    workspace: str | Path | None = None,
    quick: bool = False,
    seed: int = 0,
    models: list[str] | None = None,
    horizon: int = 90,
    step: int = 30,
    n_test: int = 3,
    n_train: int = 3,
    **_: Any,
) -> BenchResult:
    """The churn / propensity benchmark (see the module docstring); returns rows, writes nothing."""
    import torch

    from shopml.predict.gbm import LightGBMClassifier
    from shopml.predict.linear import LogisticRegression
    from shopml.predict.mlp import MLPClassifier

    torch.set_num_threads(1)
    orders = load_orders(dataset, workspace)
    plan = cutoffs(orders, horizon, step, 1 if quick else n_test, n_train)
    label = dataset or Path(str(workspace)).stem
    cache: dict[pd.Timestamp, tuple[pd.DataFrame, np.ndarray]] = {}

    def frame(c: pd.Timestamp) -> tuple[pd.DataFrame, np.ndarray]:
        if c not in cache:
            cache[c] = churn_frame(orders, c, horizon)
        return cache[c]

    per_model: dict[str, list[Row]] = {}
    notes: list[str] = []
    n_boot = 200 if quick else 500
    for test_c, val_c, train_cs in plan:
        Xtr, ytr = _stack([frame(c) for c in train_cs])
        Xv, yv = frame(val_c)
        Xte, yte = frame(test_c)
        split = LabelledSplit(Xtr, ytr, Xv, yv, Xte, yte)
        cat = {"categorical": ["country"]} if "country" in Xtr.columns else {"categorical": []}
        candidates = {
            "logistic regression": Candidate(LogisticRegression(min_frequency=20, **cat), floor=True),
            "LightGBM defaults": Candidate(LightGBMClassifier(seed=seed, min_frequency=20, **cat), floor=True),
            "LightGBM tuned": Candidate(
                LightGBMClassifier(
                    n_estimators=100 if quick else 1000, learning_rate=0.02, num_leaves=15, min_child_samples=40,
                    subsample=0.8, colsample_bytree=0.8, reg_lambda=1.0, early_stopping_rounds=50,
                    seed=seed, min_frequency=20, **cat,
                )
            ),
            "MLP": Candidate(
                MLPClassifier(hidden=(64, 32), dropout=0.2, epochs=5 if quick else 60, batch_size=512, lr=1e-3,
                              weight_decay=1e-4, patience=5, seed=seed, min_frequency=20, **cat)
            ),
        }
        candidates = select_candidates(candidates, models)
        part = BenchResult("predict", label, "")
        probs = evaluate_classifiers(candidates, split, part, n_boot=n_boot, seed=seed)
        # the classic model: BG/NBD fitted on each cutoff's own history summaries (it needs no labels)
        t0 = time.perf_counter()
        s_val = _bgnbd_scores(Xv, horizon, Xv)
        s_test = _bgnbd_scores(Xte, horizon, Xte)
        fit_s = time.perf_counter() - t0
        cal = make_calibrator("isotonic").fit(s_val, yv)
        p_cal = cal.transform(s_test)
        m = classification_metrics(yte, s_test, fprs=(0.01, 0.05))
        cm = classification_metrics(yte, p_cal, fprs=())
        metrics = {k: m[k] for k in ("auc", "auprc", "recall@1%fpr", "recall@5%fpr")}
        metrics.update(log_loss=cm["log_loss"], brier=cm["brier"], brier_raw=m["brier"], ece=expected_calibration_error(yte, p_cal))
        part.rows.append(Row("BG/NBD P(buy in horizon)", metrics, False, fit_s, 0.0, {"horizon_days": horizon}, {}))
        probs["BG/NBD P(buy in horizon)"] = s_test
        for r in part.rows:
            r.extra["cutoff"] = str(test_c.date())
            per_model.setdefault(r.model, []).append(r)
        best = max(part.rows, key=lambda r: r.metrics["auc"]).model
        floors = [r.model for r in part.rows if r.extra.get("floor")]
        notes += [f"cutoff {test_c.date()}: " + n for n in paired_rows(probs, yte, best, floors, "auc", n_boot=n_boot, seed=seed)]
        notes.append(
            f"cutoff {test_c.date()}: train cutoffs {[str(c.date()) for c in train_cs]}, validation {val_c.date()}; "
            f"{split.sizes()}"
        )

    result = BenchResult(
        capability="predict",
        dataset=label,
        protocol=(
            f"churn / propensity: label = any order in the {horizon} days after the cutoff; rolling test cutoffs "
            f"{', '.join(str(t.date()) for t, _, _ in plan)}; training cutoffs earlier, their labels ending before "
            f"the test cutoff; metrics are means over the test cutoffs (per cutoff in extra), probabilities "
            f"calibrated (isotonic) on the validation cutoff"
        ),
    )
    for name, rows in per_model.items():
        keys = list(rows[0].metrics)
        mean = {k: float(np.mean([r.metrics[k] for r in rows])) for k in keys}
        extra = {"per_cutoff": [{"cutoff": r.extra["cutoff"], **r.metrics, **({"ci": r.extra["ci"]} if "ci" in r.extra else {})} for r in rows]}
        if rows[0].extra.get("floor"):
            extra["floor"] = True
        result.rows.append(
            Row(name, mean, rows[0].peer, float(np.mean([r.fit_seconds or 0 for r in rows])),
                float(np.mean([r.predict_seconds or 0 for r in rows])), rows[0].params, extra)
        )
    result.notes += notes
    result.notes.append(
        "rows: customers with an order on or before the cutoff; features from orders up to the cutoff only; "
        "fit/predict seconds are means over the test cutoffs"
    )
    return result


__all__ = ["cutoffs", "load_orders", "run"]
