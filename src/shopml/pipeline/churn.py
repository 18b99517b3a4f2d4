"""Pipeline step ``churn``: purchase propensity (will a customer order in the next days?).

Protocol (the task of :mod:`shopml.predict.tasks`, moved back by one horizon so that a test
period exists that no model saw): the test cutoff is ``horizon`` days before the last order
day; its labels (an order in the following ``horizon`` days) are the test set. Models train on
rolling cutoffs whose label windows all end by the test cutoff: the latest of them validates
(early stopping, isotonic calibration, the decision threshold), the ``n_train`` before it train.
Baselines: the training base rate (no ranking at all) and recency (days since the last order,
calibrated on the validation cutoff like every model). Metrics on the test cutoff's customers:
AUPRC (primary), AUC, log loss and Brier with stratified bootstrap intervals; figures:
precision-recall and calibration curves, and the confusion matrix at the threshold that
maximises F1 on validation. The best model is refitted on the latest cutoffs and registered
as ``predict/churn`` by :func:`shopml.predict.tasks.train_task` (what the service scores).
"""

from __future__ import annotations

import time
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import (
    Leader,
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    version_ref,
)


class ChurnModel(Strict):
    """One classifier of :func:`shopml.predict.tasks.make_model` and its parameters."""

    name: Literal["logistic", "lightgbm", "mlp"]
    params: dict[str, Any] = Field(default_factory=dict)


class ChurnStep(Strict):
    """The ``train.churn`` section."""

    models: list[ChurnModel] = Field(default_factory=lambda: [ChurnModel(name="logistic"), ChurnModel(name="lightgbm")], min_length=1)
    horizon: int = Field(60, ge=7)
    step: int = Field(30, ge=1)
    n_train: int = Field(3, ge=1)
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")

    @field_validator("models", mode="before")
    @classmethod
    def _names(cls, v: Any) -> Any:
        # "lightgbm" is short for {name: lightgbm}
        return [{"name": m} if isinstance(m, str) else m for m in v] if isinstance(v, list) else v


@register_step("churn", ChurnStep, tables=("orders", "users"), section="predict")
def churn(ctx: StepContext, cfg: ChurnStep) -> StepResult:
    """Fit each classifier on past cutoffs, calibrate on the latest, score a later test cutoff."""
    from shopml.core.errors import DataError
    from shopml.evaluation.classification import bootstrap_metric, classification_metrics
    from shopml.predict.calibration import make_calibrator
    from shopml.predict.tasks import (
        churn_cutoffs,
        churn_frame,
        churn_orders,
        make_model,
        train_task,
    )

    try:
        orders = churn_orders(ctx.workspace)
        test_c = orders["ts"].max().floor("D") - pd.Timedelta(days=cfg.horizon)
        val_c, train_cs = churn_cutoffs(orders, cfg.horizon, cfg.step, cfg.n_train, end=test_c)
    except DataError as exc:
        raise StepSkipped(str(exc)) from None
    parts = [churn_frame(orders, c, cfg.horizon) for c in train_cs]
    Xtr = pd.concat([p[0] for p in parts], ignore_index=True)
    ytr = np.concatenate([p[1] for p in parts])
    Xv, yv = churn_frame(orders, val_c, cfg.horizon)
    Xte, yte = churn_frame(orders, test_c, cfg.horizon)
    Xv, Xte = Xv.reset_index(drop=True), Xte.reset_index(drop=True)
    for name, y in (("training", ytr), ("validation", yv), ("test", yte)):
        if y.min() == y.max():
            raise StepSkipped(f"the {name} customers are all of one class: nothing to learn or judge")
    protocol = (
        f"customers with an order by {test_c.date()}: an order in the next {cfg.horizon} days? "
        f"Trained on cutoffs {', '.join(str(c.date()) for c in train_cs)}, calibrated on {val_c.date()}, "
        f"tested on {test_c.date()} ({len(yte)} customers, {100 * yte.mean():.1f}% positive)"
    )
    result = StepResult("churn", protocol, "auprc", True)
    result.stats = {"train_rows": len(ytr), "validation_rows": len(yv), "test_rows": len(yte),
                    "test_positive_rate": float(yte.mean()), "test_cutoff": str(test_c.date())}
    boot = {"n": ctx.evaluate.bootstrap, "seed": ctx.evaluate.seed, "level": ctx.evaluate.level}
    entries = [("base rate (baseline)", None), ("recency (baseline)", None)] + [(m.name, m) for m in cfg.models]
    task = ctx.progress.add_task("churn: fitting", total=len(entries))
    pr, cal_series = [], []
    probs: dict[str, np.ndarray] = {}
    for name, m in entries:
        ctx.progress.update(task, description=f"churn: {name}")
        t0 = time.perf_counter()
        if m is None and name.startswith("base rate"):
            p_val, p_test, params = np.full(len(yv), ytr.mean()), np.full(len(yte), ytr.mean()), {}
        elif m is None:  # the longer since the last order, the less likely the next
            p_val, p_test, params = -Xv["time_since_last"].to_numpy(float), -Xte["time_since_last"].to_numpy(float), {}
        else:
            model = make_model(m.name, "churn", m.params, seed=ctx.evaluate.seed, columns=list(Xtr.columns))
            model.fit(Xtr, ytr, eval_set=(Xv, yv))
            p_val, p_test, params = model.predict_proba(Xv), model.predict_proba(Xte), model.get_params()
        raw_val, raw_test = _unit(p_val, p_val), _unit(p_test, p_val)
        kind = _calibration_kind(yv)
        calibrator = make_calibrator(kind).fit(raw_val, yv)
        p_val, p_test = calibrator.transform(raw_val), calibrator.transform(raw_test)
        if kind == "isotonic" and np.ptp(raw_test) > 0 and len(np.unique(p_test)) < 3:
            # isotonic regression pooled every score into one or two steps: the ranking would
            # be lost, so Platt scaling (monotone, strictly increasing) calibrates instead
            kind = "platt"
            calibrator = make_calibrator(kind).fit(raw_val, yv)
            p_val, p_test = calibrator.transform(raw_val), calibrator.transform(raw_test)
        if m is not None or name.startswith("recency"):
            result.stats.setdefault("calibration", {})[name] = kind
        fit_s = time.perf_counter() - t0
        met = classification_metrics(yte, p_test, fprs=(0.05,))
        ci = {}
        if np.ptp(p_test) > 0:
            for metric in ("auprc", "auc", "log_loss", "brier"):
                c = bootstrap_metric(yte, p_test, metric, **boot)
                ci[metric] = [round(c.low, 5), round(c.high, 5)]
        shown = {k: round(float(met[k]), 5) for k in ("auprc", "auc", "log_loss", "brier", "recall@5%fpr")}
        result.leaderboard.append(Leader(name, shown, ci, m is None, round(fit_s, 3), _jsonable(params)))
        probs[name] = p_test
        pr.append(_pr_curve(name, yte, p_test))
        cal_series.append(_calibration_curve(name, yte, p_test))
        if m is not None:
            thr = _best_f1_threshold(yv, p_val)
            result.stats.setdefault("thresholds", {})[name] = thr
        ctx.progress.advance(task)
    ctx.progress.remove_task(task)
    best = result.best()
    _compare(result, yte, probs, boot)
    _oracle(ctx, result, orders, yte, test_c, boot)
    result.plots += [
        {"kind": "lines", "title": "precision-recall on the test cutoff", "x_label": "recall", "y_label": "precision", "series": pr},
        {"kind": "lines", "title": "calibration on the test cutoff (deciles of predicted probability)", "diagonal": True,
         "x_label": "mean predicted probability", "y_label": "observed rate", "series": cal_series},
    ]
    if best is not None:
        thr = result.stats["thresholds"][best.model]
        pred = probs[best.model] >= thr
        z = [[int(((yte == 0) & ~pred).sum()), int(((yte == 0) & pred).sum())],
             [int(((yte == 1) & ~pred).sum()), int(((yte == 1) & pred).sum())]]
        result.plots.append({
            "kind": "heatmap", "title": f"confusion matrix of {best.model} at threshold {thr:.3f} (best F1 on validation)",
            "z": z, "x": ["predicted: no order", "predicted: order"], "y": ["no order", "order"],
        })
        winner = result.best(include_baselines=True)
        if winner is not None and winner.baseline:
            result.notes.append(f"the baseline {winner.model} beat every model on test AUPRC")
        if ctx.wants(best.model, best.model, cfg.register_policy):
            entry = next(m for m in cfg.models if m.name == best.model)
            mv = train_task(ctx.workspace_path, ctx.registry.root, "churn", entry.name, entry.params,
                            {"horizon": cfg.horizon, "step": cfg.step, "n_train": cfg.n_train})
            result.registered.append({**version_ref(mv), "model": best.model, "test_metrics": best.metrics})
    return result


#: isotonic regression needs this many of each class on validation; below it, Platt scaling
#: (two parameters) calibrates without collapsing scores into a few steps
MIN_ISOTONIC_CLASS = 100


def _calibration_kind(y: np.ndarray) -> str:
    positives = int(np.sum(y))
    return "isotonic" if min(positives, len(y) - positives) >= MIN_ISOTONIC_CLASS else "platt"


def _compare(result: StepResult, y: np.ndarray, probs: dict[str, np.ndarray], boot: dict) -> None:
    """The best model's AUPRC minus the best baseline's, paired bootstrap on the same customers."""
    from shopml.evaluation.classification import paired_bootstrap

    best = result.best()
    bases = [r for r in result.leaderboard if r.baseline]
    if best is None or not bases:
        return
    base = max(bases, key=lambda r: r.metrics["auprc"])
    test = paired_bootstrap(y, probs[best.model], probs[base.model], "auprc", **boot)
    result.stats["best_vs_baseline"] = {
        "model": best.model, "baseline": base.model, "metric": "auprc",
        "diff": round(test["diff"], 5), "ci": [round(test["low"], 5), round(test["high"], 5)],
    }
    verdict = "beats" if test["low"] > 0 else "loses to" if test["high"] < 0 else "does not separate from"
    result.notes.append(
        f"{best.model} {verdict} {base.model} on AUPRC: difference {test['diff']:+.4f} "
        f"({boot['level']:.0%} paired bootstrap [{test['low']:+.4f}, {test['high']:+.4f}])"
    )


def _oracle(ctx, result, orders, yte, test_c, boot: dict) -> None:
    """Where the workspace is a simulated shop with its truth beside it: the AUPRC of ranking
    customers by what the simulator knows (their true visit rate, zero once they have left),
    so the report shows how much of the learnable signal the models capture."""
    from shopml.data.synth.result import load_truth, truth_file
    from shopml.evaluation.classification import bootstrap_metric, classification_metrics

    path = truth_file(ctx.workspace_path)
    if not path.exists():
        return
    truth = load_truth(path)
    if truth.dropout_sec.size != truth.user_id.size:
        return  # a truth file from before drop-out was simulated
    start = pd.Timestamp(truth.day[0])
    cut_sec = (test_c + pd.Timedelta(days=1) - start).total_seconds()
    idx = pd.Index(truth.user_id).get_indexer(_test_users(orders, test_c).astype(str))
    if len(idx) != len(yte) or (idx < 0).any():
        return
    score = truth.activity[idx] * (truth.dropout_sec[idx] > cut_sec)
    met = classification_metrics(yte, score, fprs=(0.05,))
    ci = {}
    for metric in ("auprc", "auc"):
        c = bootstrap_metric(yte, score, metric, **boot)
        ci[metric] = [round(c.low, 5), round(c.high, 5)]
    result.stats["oracle"] = {
        "model": "oracle (true visit rate, zero after leaving)",
        "metrics": {k: round(float(met[k]), 5) for k in ("auprc", "auc")},
        "ci": ci,
    }


def _test_users(orders: pd.DataFrame, cutoff: pd.Timestamp) -> np.ndarray:
    """The customers of :func:`churn_frame` at ``cutoff``, in its row order."""
    from shopml.predict.tasks import churn_frame

    return churn_frame(orders, cutoff, None)[0].index.to_numpy()


def _unit(p: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Scores into [0, 1] by the validation scores' range (isotonic only needs the order)."""
    lo, hi = float(np.min(ref)), float(np.max(ref))
    if lo >= 0 and hi <= 1:
        return p
    return np.clip((p - lo) / (hi - lo if hi > lo else 1.0), 0.0, 1.0)


def _pr_curve(name: str, y: np.ndarray, p: np.ndarray, points: int = 100) -> dict:
    from sklearn.metrics import precision_recall_curve

    precision, recall, _ = precision_recall_curve(y, p)
    keep = np.unique(np.linspace(0, len(recall) - 1, min(points, len(recall))).astype(int))
    return {"name": name, "x": np.round(recall[keep], 4).tolist(), "y": np.round(precision[keep], 4).tolist()}


def _calibration_curve(name: str, y: np.ndarray, p: np.ndarray, bins: int = 10) -> dict:
    order = np.argsort(p, kind="stable")
    groups = np.array_split(order, bins)
    groups = [g for g in groups if len(g)]
    return {"name": name, "x": [round(float(p[g].mean()), 4) for g in groups],
            "y": [round(float(y[g].mean()), 4) for g in groups]}


def _best_f1_threshold(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import precision_recall_curve

    precision, recall, thr = precision_recall_curve(y, p)
    f1 = 2 * precision[:-1] * recall[:-1] / np.maximum(precision[:-1] + recall[:-1], 1e-12)
    return float(thr[int(np.argmax(f1))]) if len(thr) else 0.5


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in params.items()
            if isinstance(v, str | int | float | bool | tuple | list | type(None))}
