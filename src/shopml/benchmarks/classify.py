"""Shared evaluation of binary classifiers for the ``predict`` tasks (fraud, churn, CTR, ...).

:func:`evaluate_classifiers` fits every model on the training rows (early stopping, where a
model does it, on the validation rows), calibrates its probabilities on the validation rows
(isotonic by default), and measures on the test rows, which nothing was fitted or tuned on:

- ranking metrics from the raw scores: ``auc``, ``auprc``, ``recall@1%fpr``, ``recall@5%fpr``
  with percentile-bootstrap intervals (stratified) in ``extra["ci"]``;
- probability metrics from the calibrated probabilities: ``log_loss``, ``brier``, ``ece``
  (and ``brier_raw``, before calibration);
- with a cost matrix: the realised cost per row of the Bayes minimum-risk decisions
  (:mod:`shopml.predict.decision`), and of the threshold that was cheapest on validation.

Each model becomes one :class:`~shopml.benchmarks.runner.Row`; the test probabilities are
returned for paired comparisons (:func:`paired_rows`). Churn and fraud use this path.

:func:`fit_and_score` is the lighter path of the CTR and conversion tasks: fit on the train
rows (a model holds out its own validation rows), score the test rows, no calibration. Its rows
carry ``auc`` with its 95% interval (``auc_low``, ``auc_high``), ``auprc`` with its interval,
``log_loss``, ``brier`` and ``recall@5%fpr`` in ``metrics``; ``extra`` holds the paired bootstrap
of the AUC difference to the floor model (same test rows, :func:`add_paired_tests`) and, for
torch models fitted with several seeds, the AUC per seed (training variance, which the bootstrap
over test rows does not show).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row
from shopml.evaluation.classification import (
    bootstrap_metric,
    classification_metrics,
    paired_bootstrap,
)
from shopml.evaluation.splits import LabelledSplit
from shopml.predict.base import Predictor
from shopml.predict.calibration import (
    calibration_curve,
    expected_calibration_error,
    make_calibrator,
)
from shopml.predict.decision import CostMatrix, best_threshold, decide, realised_cost


@dataclass
class Candidate:
    """A model to evaluate: a fresh predictor, whether it is a peer, and a note."""

    model: Predictor
    peer: bool = False
    floor: bool = False
    params: dict[str, Any] = field(default_factory=dict)


def evaluate_classifiers(
    candidates: dict[str, Candidate],
    split: LabelledSplit,
    result: BenchResult,
    *,
    calibration: str = "isotonic",
    costs: Callable[[pd.DataFrame], CostMatrix] | None = None,
    fprs: tuple[float, ...] = (0.01, 0.05),
    n_boot: int = 1000,
    seed: int = 0,
    use_eval_set: bool = True,
) -> dict[str, np.ndarray]:
    """Fit, calibrate and measure every candidate (see the module docstring); append one row
    per model to ``result`` and return each model's raw test probabilities."""
    out: dict[str, np.ndarray] = {}
    curves: dict[str, pd.DataFrame] = {}
    for name, cand in candidates.items():
        t0 = time.perf_counter()
        ev = (split.X_val, split.y_val) if use_eval_set else None
        model = cand.model.fit(split.X_train, split.y_train, eval_set=ev)
        fit_s = time.perf_counter() - t0
        p_val = model.predict_proba(split.X_val)
        t0 = time.perf_counter()
        p_test = model.predict_proba(split.X_test)
        pred_s = time.perf_counter() - t0
        cal = make_calibrator(calibration).fit(p_val, split.y_val)
        p_cal = cal.transform(p_test)
        m = classification_metrics(split.y_test, p_test, fprs=fprs, probabilities=True)
        metrics = {k: m[k] for k in m if k not in ("log_loss", "brier", "positive_rate", "n")}
        cal_m = classification_metrics(split.y_test, p_cal, fprs=(), probabilities=True)
        metrics["log_loss"] = cal_m["log_loss"]
        metrics["brier"] = cal_m["brier"]
        metrics["brier_raw"] = m["brier"]
        metrics["ece"] = expected_calibration_error(split.y_test, p_cal)
        extra: dict[str, Any] = {
            "ci": {
                k: bootstrap_metric(split.y_test, p_test, k, n=n_boot, seed=seed).as_dict()
                for k in ("auc", "auprc")
            },
            "calibration": calibration,
            "floor": cand.floor,
        }
        if costs is not None:
            cm_val, cm_test = costs(split.X_val), costs(split.X_test)
            bayes = realised_cost(split.y_test, decide(p_cal, cm_test), cm_test)
            thr, _ = best_threshold(split.y_val, cal.transform(p_val), cm_val)
            emp = realised_cost(split.y_test, (p_cal >= thr).astype(int), cm_test)
            metrics["cost_per_row"] = bayes["cost_per_row"]
            extra["decision"] = {"bayes": bayes, "validation_threshold": {"threshold": thr, **emp}}
        for attr in ("best_iteration_", "best_epoch_"):
            if hasattr(model, attr):
                extra[attr.rstrip("_")] = getattr(model, attr)
        curves[name] = calibration_curve(split.y_test, p_cal, n_bins=10)
        extra["calibration_curve"] = curves[name].to_dict(orient="list")
        params = {**model.get_params(), **cand.params}
        result.rows.append(Row(name, metrics, cand.peer, fit_s, pred_s, _jsonable(params), extra))
        out[name] = p_test
    return out


def paired_rows(
    probs: dict[str, np.ndarray],
    y: np.ndarray,
    best: str,
    against: list[str],
    metric: str = "auprc",
    n_boot: int = 1000,
    seed: int = 0,
) -> list[str]:
    """Notes: paired bootstrap of ``metric(best) - metric(other)`` on the same test rows."""
    notes = []
    for other in against:
        if other == best or other not in probs:
            continue
        d = paired_bootstrap(y, probs[best], probs[other], metric, n=n_boot, seed=seed)
        notes.append(
            f"{best} vs {other}: {metric} difference {d['diff']:+.4f} "
            f"[{d['low']:+.4f}, {d['high']:+.4f}] (95% paired bootstrap, p={d['p_value']:.3f})"
        )
    return notes


def cost_baselines(
    split: LabelledSplit, costs: Callable[[pd.DataFrame], CostMatrix]
) -> dict[str, float]:
    """Cost per test row of flagging nothing and of flagging everything."""
    cm = costs(split.X_test)
    n = len(split.y_test)
    return {
        "flag_none": realised_cost(split.y_test, np.zeros(n), cm)["cost_per_row"],
        "flag_all": realised_cost(split.y_test, np.ones(n), cm)["cost_per_row"],
    }


def select_candidates(
    candidates: dict[str, Candidate], models: list[str] | None
) -> dict[str, Candidate]:
    """The candidates named in ``models`` (all when ``None``); unknown names are refused."""
    if models is None:
        return candidates
    from shopml.core.errors import ValidationError

    unknown = sorted(set(models) - set(candidates))
    if unknown:
        raise ValidationError(f"unknown model(s) {unknown}; this task has {sorted(candidates)}")
    return {k: v for k, v in candidates.items() if k in models}


def metrics_with_ci(
    y: np.ndarray, p: np.ndarray, n_boot: int = 1000, seed: int = 0
) -> dict[str, float]:
    """AUC and AUPRC with 95% bootstrap intervals (stratified; none when ``n_boot`` is 0), log
    loss, Brier, recall@5% FPR."""
    m = classification_metrics(y, p, fprs=(0.05,))
    if n_boot <= 0:  # no intervals (throughput runs)
        return {k: m[k] for k in ("auc", "auprc", "log_loss", "brier", "recall@5%fpr")}
    out = {"auc": m["auc"]}
    ci = bootstrap_metric(y, p, "auc", n=n_boot, seed=seed)
    out["auc_low"], out["auc_high"] = ci.low, ci.high
    out["auprc"] = m["auprc"]
    ci = bootstrap_metric(y, p, "auprc", n=n_boot, seed=seed)
    out["auprc_low"], out["auprc_high"] = ci.low, ci.high
    out["log_loss"] = m["log_loss"]
    out["brier"] = m["brier"]
    out["recall@5%fpr"] = m["recall@5%fpr"]
    return out


def fit_and_score(
    name: str,
    make: Callable[[int], Any],
    X_train: pd.DataFrame,
    y_train: np.ndarray,
    X_test: pd.DataFrame,
    y_test: np.ndarray,
    *,
    peer: bool = False,
    seeds: Sequence[int] = (0,),
    n_boot: int = 1000,
    params: dict[str, Any] | None = None,
) -> tuple[Row, np.ndarray]:
    """Fit ``make(seed)`` (anything with ``fit(X, y)`` / ``predict_proba(X) -> (n,)``) per seed;
    the first seed's model gives the row's metrics and timings; all seeds' AUCs go in ``extra``."""
    probs, fit_s, pred_s = [], [], []
    model = None
    for s in seeds:
        model = make(int(s))
        t0 = time.perf_counter()
        model.fit(X_train, y_train)
        fit_s.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        probs.append(
            np.clip(
                np.asarray(model.predict_proba(X_test), dtype=np.float64).ravel(), 1e-7, 1 - 1e-7
            )
        )
        pred_s.append(time.perf_counter() - t0)
    p = probs[0]
    metrics = metrics_with_ci(y_test, p, n_boot=n_boot)
    extra: dict[str, Any] = {}
    if len(seeds) > 1:
        aucs = [classification_metrics(y_test, q, fprs=())["auc"] for q in probs]
        extra["auc_by_seed"] = dict(zip([int(s) for s in seeds], aucs, strict=True))
        metrics["auc_seed_mean"] = float(np.mean(aucs))
        metrics["auc_seed_sd"] = float(np.std(aucs, ddof=1))
    hist = getattr(model, "history_", None)
    if hist:
        extra["epochs_run"] = len(hist)
        extra["best_epoch"] = getattr(model, "best_epoch_", None)
    if params is None:
        params = model.get_params() if hasattr(model, "get_params") else {}
    return Row(name, metrics, peer, fit_s[0], pred_s[0], _jsonable(params), extra), p


def add_paired_tests(
    rows: list[Row], probs: dict[str, np.ndarray], y: np.ndarray, floor: str, n_boot: int = 1000
) -> None:
    """Into each row's ``extra``: the paired bootstrap of its AUC minus the floor's AUC."""
    if floor not in probs:
        return
    for row in rows:
        if row.model == floor or row.model not in probs:
            continue
        row.extra[f"auc_minus_{floor}"] = paired_bootstrap(
            y, probs[row.model], probs[floor], "auc", n=n_boot
        )


def best_vs_floor_note(rows: list[Row], floor: str) -> str:
    """One line: the best model, the floor's AUC, and whether the paired interval excludes zero.

    The best model is chosen by its mean test AUC over seeds (``auc_seed_mean`` where it has
    several, else ``auc``): picking the luckiest seed would flatter a noisy model."""

    def score(r: Row) -> float:
        return r.metrics.get("auc_seed_mean", r.metrics.get("auc", -1.0))

    best = max(rows, key=score)
    base = next((r for r in rows if r.model == floor), None)
    if base is None:
        return f"best AUC: {best.model} {best.metrics['auc']:.4f}"
    if best.model == floor:
        return (
            "best AUC (mean over seeds where several): the floor "
            f"{floor} itself ({best.metrics['auc']:.4f})"
        )
    d = best.extra.get(f"auc_minus_{floor}", {})
    verdict = (
        "the paired 95% interval of the difference excludes 0"
        if d and (d["low"] > 0 or d["high"] < 0)
        else "the paired 95% interval of the difference includes 0: not a significant difference"
    )
    seeds = (
        f" (mean over seeds {best.metrics['auc_seed_mean']:.4f} "
        f"+- {best.metrics['auc_seed_sd']:.4f}; "
        "the paired test below is seed 0's)"
        if "auc_seed_mean" in best.metrics
        else ""
    )
    return (
        f"best AUC: {best.model} {best.metrics['auc']:.4f}{seeds} "
        f"vs floor {floor} {base.metrics['auc']:.4f} "
        f"(difference {d.get('diff', float('nan')):+.4f}, 95% [{d.get('low', float('nan')):+.4f}, "
        f"{d.get('high', float('nan')):+.4f}], p={d.get('p_value', float('nan')):.3f}); {verdict}"
    )


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()}


__all__ = [
    "Candidate",
    "add_paired_tests",
    "best_vs_floor_note",
    "cost_baselines",
    "evaluate_classifiers",
    "fit_and_score",
    "metrics_with_ci",
    "paired_rows",
    "select_candidates",
]
