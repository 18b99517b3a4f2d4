"""The shop's prediction tasks on a workspace: what a row is, its features, its label, its split.

- ``churn`` (purchase propensity): a row is a customer at a cutoff day; features from their
  completed orders up to the cutoff (:func:`churn_frame`); label = an order in the next
  ``horizon`` days. Training uses rolling cutoffs: the last cutoff whose label window is fully
  observed validates (calibration), ``n_train`` earlier ones, ``step`` days apart, train.
  Scoring: every customer at the last order day.
- ``fraud``: a row is an order; features known at the moment of purchase (:func:`fraud_features`:
  value, the account's age, sex and sign-up time, source, browser, hour, weekday, and how many
  strictly earlier orders and other accounts used the same device); label = the order's fraud
  label (``labels`` name ``is_fraud`` or ``fraud`` on entity ``order``). Training: labelled
  orders in time order, the last ``validation_fraction`` validates. Scoring: every order. The
  decision uses a cost matrix: review ``review_cost`` per flagged order, a missed fraud costs
  its value plus ``chargeback_fee``.
- ``ctr``: a row is a logged impression (a shown item); features from
  :func:`shopml.predict.impressions.impression_features` (position, item and its catalogue row,
  the context's user features); label = clicked. Training: impressions in time order, the last
  ``validation_fraction`` validates. Scoring: every impression. Decision: show the item when
  ``P(click) >= impression_cost / click_value`` (:func:`value_costs`).
- ``conversion``: a row is a session at its ``n``-th browsing event; features from
  :func:`shopml.predict.session_prefix.session_prefixes` (the first ``n`` events, ordered by
  the SQL expression ``order_by``, and what is known of the session and user then); label = the
  session has a purchase. Training: sessions ordered by their first event, the last
  ``validation_fraction`` validates. Scoring: every session that reached its ``n``-th event
  unconverted. Decision: act on the session (a nudge, a retargeting slot) for ``action_cost``
  when ``P(purchase) >= action_cost / conversion_value``. The ``gru`` model reads the step
  columns as sequences.

The cost defaults of ``ctr`` and ``conversion`` are placeholders (a click worth 1, an
impression 0.01; a conversion worth 1, an action 0.1): pass the shop's own numbers as options.

:func:`train_task` fits a model, calibrates it on the validation rows (isotonic), and registers
``predict/<task>`` (the predictor's files, ``calibrator.json``, config and validation metrics);
:func:`load_task` and :func:`score_task` serve it (CLI ``shopml predict``, the service).
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.predict.base import Predictor
from shopml.predict.calibration import Calibrator, make_calibrator
from shopml.predict.decision import CostMatrix, bayes_threshold
from shopml.predict.features import entity_sharing, purchase_features, purchase_label

CAPABILITY = "predict"
# the predictor's files sit at the version's root (so `shopml batch predict` loads it as any
# Predictor), the calibrator beside them
CALIBRATOR_FILE = "calibrator.json"

# ----------------------------------------------------------------------------- churn

CHURN_ORDERS_SQL = """
SELECT o.user_id, o.ts,
       coalesce(TRY_CAST(json_extract_string(o.attributes, '$.dollar_value') AS DOUBLE),
                o.quantity * o.unit_price, 0.0) AS value,
       u.country
FROM orders o LEFT JOIN users u ON u.user_id = o.user_id
WHERE o.status = 'completed' AND o.user_id IS NOT NULL AND o.ts IS NOT NULL
"""


def churn_orders(ws: Any) -> pd.DataFrame:
    """Completed orders of known customers from a workspace: ``user_id, ts, value, country``."""
    tx = ws.sql(CHURN_ORDERS_SQL)
    if tx.empty:
        raise DataError("the workspace has no completed orders of known customers")
    tx["ts"] = pd.to_datetime(tx["ts"], utc=True).dt.tz_localize(None)
    tx["value"] = tx["value"].fillna(0.0)
    return tx


def churn_frame(orders: pd.DataFrame, cutoff: Any, horizon: int | None) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Features at ``cutoff`` for every customer with an order by then; labels for
    ``(cutoff, cutoff + horizon]`` (``None`` without a horizon)."""
    X = purchase_features(orders, cutoff)
    if "country" in orders.columns:
        country = orders.drop_duplicates("user_id").set_index("user_id")["country"]
        if country.notna().any():
            X["country"] = country.reindex(X.index).astype(object).to_numpy()
    y = None if horizon is None else purchase_label(orders, X.index, cutoff, horizon).to_numpy(dtype=float)
    return X, y


def churn_cutoffs(orders: pd.DataFrame, horizon: int, step: int, n_train: int, end: pd.Timestamp | None = None) -> tuple[pd.Timestamp, list[pd.Timestamp]]:
    """(validation cutoff, training cutoffs) ending at ``end`` (default: the last order day):
    the validation labels end at ``end``, training labels end ``step`` days or more before it."""
    first = orders["ts"].min().floor("D")
    end = orders["ts"].max().floor("D") if end is None else end
    val = end - pd.Timedelta(days=int(horizon))
    train = [val - pd.Timedelta(days=int(step) * j) for j in range(1, int(n_train) + 1)]
    train = [c for c in train if c >= first + pd.Timedelta(days=int(step))]
    if val < first + pd.Timedelta(days=int(step)) or not train:
        raise DataError(
            f"orders span {first.date()}..{end.date()}: too short for a {horizon}-day horizon with a "
            f"validation cutoff and training cutoffs {step} days apart before it"
        )
    return val, train


# ----------------------------------------------------------------------------- fraud

FRAUD_LABELS = ("is_fraud", "fraud")
FRAUD_CATEGORICAL = ["sex", "source", "browser"]

FRAUD_ORDERS_SQL = """
WITH o AS (
  SELECT order_id, any_value(user_id) AS user_id, min(ts) AS ts,
         sum(quantity * coalesce(unit_price, 0)) AS purchase_value,
         any_value(json_extract_string(attributes, '$.device_id')) AS device_id,
         any_value(json_extract_string(attributes, '$.source')) AS source,
         any_value(json_extract_string(attributes, '$.browser')) AS browser
  FROM orders WHERE ts IS NOT NULL GROUP BY order_id
), l AS (
  SELECT entity_id, max(value) AS label FROM labels
  WHERE entity = 'order' AND name IN ('is_fraud', 'fraud') GROUP BY entity_id
)
SELECT o.*, u.signup_ts,
       json_extract_string(u.attributes, '$.sex') AS sex,
       TRY_CAST(json_extract_string(u.attributes, '$.age') AS DOUBLE) AS age,
       l.label
FROM o LEFT JOIN l ON l.entity_id = o.order_id
LEFT JOIN users u ON u.user_id = o.user_id
ORDER BY o.ts, o.order_id
"""


def fraud_orders(ws: Any, labelled_only: bool = True) -> pd.DataFrame:
    """Orders (one row per order, in time order) with the account's attributes and the label."""
    frame = ws.sql(FRAUD_ORDERS_SQL)
    if labelled_only:
        frame = frame[frame["label"].notna()]
        if frame.empty:
            raise DataError(f"the workspace has no orders with a fraud label (labels named {list(FRAUD_LABELS)})")
    return frame.reset_index(drop=True)


def fraud_features(orders: pd.DataFrame) -> pd.DataFrame:
    """The fraud model's features (module docstring), one row per order, same index.

    Device sharing counts only strictly earlier orders of ``orders`` (pass the full history)."""
    ts = pd.to_datetime(orders["ts"], utc=True)
    signup = pd.to_datetime(orders["signup_ts"], utc=True)
    since = (ts - signup).dt.total_seconds()
    sharing = entity_sharing(orders, "device_id", account_col="user_id", time_col="ts")
    X = pd.DataFrame(
        {
            "purchase_value": orders["purchase_value"].astype(float),
            "age": pd.to_numeric(orders["age"], errors="coerce").astype(float),
            "log_seconds_since_signup": np.log1p(since.clip(lower=0)),
            "same_minute_as_signup": (since < 60).astype(float).where(since.notna()),
            "hour": ts.dt.hour.astype(float),
            "weekday": ts.dt.weekday.astype(float),
            "device_prior_orders": sharing["device_id_prior_rows"].astype(float),
            "device_prior_accounts": sharing["device_id_prior_accounts"].astype(float),
        },
        index=orders.index,
    )
    for c in FRAUD_CATEGORICAL:
        X[c] = orders[c].astype(object)
    return X


def fraud_costs(X: pd.DataFrame, review_cost: float = 5.0, chargeback_fee: float = 15.0) -> CostMatrix:
    """Review every flagged order for ``review_cost``; a missed fraud costs its value + fee."""
    value = X["purchase_value"].to_numpy(dtype=float)
    return CostMatrix(tp=review_cost, fp=review_cost, fn=value + chargeback_fee, tn=0.0)


# ----------------------------------------------------------------------------- ctr, conversion


def value_costs(value: float, cost: float) -> CostMatrix:
    """Acting (show an item, target a session) costs ``cost``; a positive acted on is worth
    ``value``: the Bayes decision acts when ``p >= cost / value``."""
    return CostMatrix(tp=float(cost) - float(value), fp=float(cost), fn=0.0, tn=0.0)


def ctr_rows(ws: Any) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, pd.Series]:
    """Impression ids, features, click labels and times, in time order."""
    from shopml.predict.impressions import impression_features

    data = impression_features(ws)
    return data.impression_id.astype(str), data.X, data.y.astype(float), data.ts


def conversion_rows(ws: Any, options: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, pd.Series]:
    """Session ids, prefix features, purchase labels and session start times, in time order."""
    from shopml.predict.session_prefix import session_prefixes

    data = session_prefixes(ws, int(options["n"]), order_by=str(options["order_by"]))
    return data.session_id.astype(str), data.X, data.y.astype(float), data.start


def sequence_groups(columns: list[str], X: pd.DataFrame | None = None) -> list[str]:
    """Step-column groups (``g_1, g_2, ...``) among ``columns``, in column order: what the
    sequence model reads as sequences.

    The model takes each row's length from its first group, so with ``X`` given the groups
    present at every step of every row come first (a search event has no item: ``item_t`` may
    be missing where ``gap_t`` is not)."""
    groups: list[str] = []
    for c in columns:
        g, _, step = c.rpartition("_")
        if g and step == "1" and g not in groups:
            groups.append(g)
    if X is not None:
        full = {g for g in groups if X[[c for c in X.columns if c.rpartition("_")[0] == g]].notna().all(axis=None)}
        groups = [g for g in groups if g in full] + [g for g in groups if g not in full]
    return groups


def _time_split(
    task: str, X: pd.DataFrame, y: np.ndarray, ts: pd.Series, fraction: float
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Rows in time order: the last ``fraction`` validates, the rest trains; both need both classes."""
    n_val = int(round(len(y) * float(fraction)))
    if n_val < 1 or n_val >= len(y):
        raise ValidationError(f"validation_fraction {fraction} leaves no training or validation rows ({len(y)} rows)")
    cut = len(y) - n_val
    for part, lab in (("training", y[:cut]), ("validation", y[cut:])):
        if lab.min() == lab.max():
            raise DataError(
                f"{task}: the {part} rows ({len(lab)}, split by time at validation_fraction {fraction}) hold only "
                f"label {int(lab[0])}; the model needs positives and negatives in both"
            )
    ts = ts.reset_index(drop=True)
    info = {"train_until": str(ts.iloc[cut - 1]), "validation_until": str(ts.iloc[-1])}
    return X.iloc[:cut].reset_index(drop=True), y[:cut], X.iloc[cut:].reset_index(drop=True), y[cut:], info


# ----------------------------------------------------------------------------- tasks

TASK_OPTIONS: dict[str, dict[str, Any]] = {
    "churn": {"horizon": 90, "step": 30, "n_train": 3},
    "fraud": {"validation_fraction": 0.2, "review_cost": 5.0, "chargeback_fee": 15.0},
    "ctr": {"validation_fraction": 0.2, "click_value": 1.0, "impression_cost": 0.01},
    "conversion": {"n": 2, "order_by": "ts", "validation_fraction": 0.2, "conversion_value": 1.0, "action_cost": 0.1},
}
TASK_ENTITY = {"churn": "user_id", "fraud": "order_id", "ctr": "impression_id", "conversion": "session_id"}
# the workspace tables a task's rows come from (fingerprinted in the registry)
TASK_TABLES = {
    "churn": ("orders",),
    "fraud": ("orders", "labels"),
    "ctr": ("impressions", "items"),
    "conversion": ("events", "items"),
}
# declared categorical columns (those present are used); None: inferred from the dtypes
# (the impression and session-prefix builders return categorical columns as object)
TASK_CATEGORICAL: dict[str, list[str] | None] = {
    "churn": ["country"],
    "fraud": FRAUD_CATEGORICAL,
    "ctr": None,
    "conversion": None,
}
TABULAR_MODELS = ("logistic", "lightgbm", "mlp")
TASK_MODELS: dict[str, tuple[str, ...]] = {
    "churn": TABULAR_MODELS,
    "fraud": TABULAR_MODELS,
    "ctr": (*TABULAR_MODELS, "deepfm", "dcn"),
    "conversion": (*TABULAR_MODELS, "deepfm", "dcn", "gru"),
}


def check_task(task: str) -> str:
    if task not in TASK_OPTIONS:
        raise ValidationError(f"unknown predict task {task!r}; trainable tasks: {sorted(TASK_OPTIONS)} (clv: see `shopml bench predict --task clv`)")
    return task


def task_options(task: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The task's options: defaults updated with ``options`` (unknown keys are refused)."""
    base = dict(TASK_OPTIONS[check_task(task)])
    unknown = sorted(set(options or {}) - set(base))
    if unknown:
        raise ValidationError(f"unknown option(s) {unknown} for task {task!r}; expected {sorted(base)}")
    base.update(options or {})
    return base


def _churn_training(ws: Any, options: dict[str, Any]):
    orders = churn_orders(ws)
    val_c, train_cs = churn_cutoffs(orders, options["horizon"], options["step"], options["n_train"])
    parts = [churn_frame(orders, c, options["horizon"]) for c in train_cs]
    Xtr = pd.concat([p[0] for p in parts], ignore_index=True)
    ytr = np.concatenate([p[1] for p in parts])
    Xv, yv = churn_frame(orders, val_c, options["horizon"])
    info = {"train_cutoffs": [str(c.date()) for c in train_cs], "validation_cutoff": str(val_c.date())}
    return Xtr, ytr, Xv.reset_index(drop=True), yv, info


def _fraud_training(ws: Any, options: dict[str, Any]):
    orders = fraud_orders(ws, labelled_only=False)
    X = fraud_features(orders)
    lab = orders["label"].notna().to_numpy()
    X, y = X[lab].reset_index(drop=True), orders.loc[lab, "label"].to_numpy(dtype=float)
    if not len(y):
        raise DataError(f"the workspace has no orders with a fraud label (labels named {list(FRAUD_LABELS)})")
    return _time_split("fraud", X, y, orders.loc[lab, "ts"], options["validation_fraction"])


def _ctr_training(ws: Any, options: dict[str, Any]):
    _, X, y, ts = ctr_rows(ws)
    return _time_split("ctr", X, y, ts, options["validation_fraction"])


def _conversion_training(ws: Any, options: dict[str, Any]):
    _, X, y, start = conversion_rows(ws, options)
    return _time_split("conversion", X, y, start, options["validation_fraction"])


def _churn_scoring(ws: Any, options: dict[str, Any]):
    orders = churn_orders(ws)
    X, _ = churn_frame(orders, orders["ts"].max().floor("D"), None)
    return X.index.to_numpy(dtype=object).astype(str), X.reset_index(drop=True)


def _fraud_scoring(ws: Any, options: dict[str, Any]):
    orders = fraud_orders(ws, labelled_only=False)
    return orders["order_id"].astype(str).to_numpy(), fraud_features(orders)


TASK_TRAINING = {"churn": _churn_training, "fraud": _fraud_training, "ctr": _ctr_training, "conversion": _conversion_training}
TASK_SCORING = {
    "churn": _churn_scoring,
    "fraud": _fraud_scoring,
    "ctr": lambda ws, options: ctr_rows(ws)[:2],
    "conversion": lambda ws, options: conversion_rows(ws, options)[:2],
}


def training_data(task: str, ws: Any, options: dict[str, Any]) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, dict[str, Any]]:
    """``X_train, y_train, X_val, y_val, info`` for ``task`` from workspace ``ws``."""
    return TASK_TRAINING[check_task(task)](ws, options)


def scoring_data(task: str, ws: Any, options: dict[str, Any]) -> tuple[np.ndarray, pd.DataFrame]:
    """Entity ids and features of every row to score now (customers at the last order day;
    every order, as of its own time; every impression; every session at its ``n``-th event)."""
    return TASK_SCORING[check_task(task)](ws, options)


def default_costs(task: str, X: pd.DataFrame, options: dict[str, Any]) -> CostMatrix | None:
    """The task's cost matrix from its options (``None`` for churn: no decision by default)."""
    if task == "fraud":
        return fraud_costs(X, float(options.get("review_cost", 5.0)), float(options.get("chargeback_fee", 15.0)))
    if task == "ctr":
        return value_costs(options.get("click_value", 1.0), options.get("impression_cost", 0.01))
    if task == "conversion":
        return value_costs(options.get("conversion_value", 1.0), options.get("action_cost", 0.1))
    return None


def make_model(
    name: str, task: str, params: dict[str, Any] | None = None, seed: int = 0, columns: list[str] | None = None
) -> Predictor:
    """A fresh model by name (see :data:`TASK_MODELS`: ``logistic``, ``lightgbm``, ``mlp``, and
    for ctr and conversion ``deepfm``, ``dcn``, for conversion ``gru``) with the task's
    categorical columns (those among ``columns``, when given) declared and ``params`` applied."""
    from shopml.predict.dcn import DCNv2Classifier
    from shopml.predict.deepfm import DeepFMClassifier
    from shopml.predict.gbm import LightGBMClassifier
    from shopml.predict.linear import LogisticRegression
    from shopml.predict.mlp import MLPClassifier
    from shopml.predict.sequence import GRUClassifier

    cat = TASK_CATEGORICAL[check_task(task)]
    if cat is not None and columns is not None:
        cat = [c for c in cat if c in columns]
    torch_kw = {"epochs": 20, "batch_size": 512, "weight_decay": 1e-5, "patience": 3, "seed": seed, "min_frequency": 20}
    defaults: dict[str, dict[str, Any]] = {
        "logistic": {"min_frequency": 20},
        "lightgbm": {"n_estimators": 1000, "learning_rate": 0.02, "num_leaves": 15, "min_child_samples": 40,
                     "subsample": 0.8, "colsample_bytree": 0.8, "reg_lambda": 1.0, "early_stopping_rounds": 50,
                     "seed": seed, "min_frequency": 20},
        "mlp": {"hidden": (64, 32), "epochs": 40, "batch_size": 512, "weight_decay": 1e-4, "patience": 5, "seed": seed, "min_frequency": 20},
        "deepfm": {"embedding_dim": 8, "hidden": (64, 32), "dropout": 0.2, **torch_kw},
        "dcn": {"embedding_dim": 8, "cross_layers": 2, "hidden": (64, 32), "structure": "parallel", "dropout": 0.2, **torch_kw},
        # the session-prefix step groups (item_1.., category_1.., ...) are the sequences
        "gru": {"sequences": sequence_groups(list(columns or [])), "embedding_dim": 16, "hidden_size": 32, "head": (32,),
                "dropout": 0.2, **torch_kw},
    }
    classes = {"logistic": LogisticRegression, "lightgbm": LightGBMClassifier, "mlp": MLPClassifier,
               "deepfm": DeepFMClassifier, "dcn": DCNv2Classifier, "gru": GRUClassifier}
    allowed = TASK_MODELS[task]
    if name not in allowed:
        why = f" ({name} is for tasks {sorted(t for t, ms in TASK_MODELS.items() if name in ms)})" if name in classes else ""
        raise ValidationError(f"unknown model {name!r} for task {task!r}; expected one of {sorted(allowed)}{why}")
    accepted = set(inspect.signature(classes[name]).parameters) - {"categorical"}
    unknown = sorted(set(params or {}) - accepted)
    if unknown:
        raise ValidationError(f"unknown parameter(s) {unknown} for model {name!r}; expected some of {sorted(accepted)}")
    kw = {**defaults[name], **(params or {})}
    return classes[name](categorical=cat, **kw)


def train_task(
    workspace: str | Path,
    registry: str | Path,
    task: str,
    model: str = "lightgbm",
    params: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    name: str | None = None,
    fit: Any = None,
):
    """Fit ``model`` for ``task`` on the workspace, calibrate on validation, register
    ``predict/<name or task>``; returns the :class:`~shopml.registry.ModelVersion`.

    ``fit(model, X, y) -> fitted`` replaces the local ``model.fit(X, y, eval_set=validation)``,
    e.g. :func:`shopml.distributed.train.predictor_fit` (Ray Train; no early stopping)."""
    from shopml.data.workspace import Workspace
    from shopml.evaluation.classification import classification_metrics
    from shopml.registry import Registry

    opts = task_options(task, options)
    if not Path(workspace).exists():
        raise DataError(f"workspace {workspace} does not exist")
    with Workspace(workspace, read_only=True) as ws:
        Xtr, ytr, Xv, yv, info = training_data(task, ws, opts)
        fingerprint = {t: ws.fingerprint(t) for t in TASK_TABLES[task]}
    if model == "gru" and "sequences" not in (params or {}):
        params = {**(params or {}), "sequences": sequence_groups(list(Xtr.columns), pd.concat([Xtr, Xv]))}
    m = make_model(model, task, params, columns=list(Xtr.columns))
    t0 = time.perf_counter()
    if fit is None:
        m.fit(Xtr, ytr, eval_set=(Xv, yv))
    else:
        m = fit(m, Xtr, ytr)
    fit_s = time.perf_counter() - t0
    p_val = m.predict_proba(Xv)
    cal = make_calibrator("isotonic").fit(p_val, yv)
    vm = classification_metrics(yv, p_val, fprs=(0.01, 0.05))
    metrics = {
        "validation_auc": vm["auc"],
        "validation_auprc": vm["auprc"],
        "validation_positive_rate": vm["positive_rate"],
        "train_rows": len(ytr),
        "validation_rows": len(yv),
        "fit_seconds": fit_s,
    }
    config = {"task": task, "model": model, "params": m.get_params(), "options": opts, "entity": TASK_ENTITY[task], **info}
    if getattr(m, "train_info_", None):  # where it was trained: Ray Train's workers and steps
        config["train"] = m.train_info_

    def write(folder: Path) -> None:
        m.save(folder)
        cal.save(folder / CALIBRATOR_FILE)

    return Registry(registry).register(CAPABILITY, name or task, write, config=_jsonable(config), metrics=metrics, data_fingerprint=fingerprint)


@dataclass(frozen=True)
class LoadedTask:
    """A registered task model ready to score."""

    task: str
    model: Predictor
    calibrator: Calibrator
    config: dict[str, Any]
    version: Any = None

    @property
    def feature_names(self) -> list[str]:
        return list(self.model.feature_names_)


def load_task(registry: Any, version: Any) -> LoadedTask:
    """Load (after verifying its checksums) a version written by :func:`train_task`."""
    from shopml.predict.base import load_predictor

    registry.verify(version)
    config = dict(version.meta.get("config") or {})
    task = check_task(str(config.get("task")))
    model = load_predictor(version.path)
    cal = Calibrator.load(version.path / CALIBRATOR_FILE)
    return LoadedTask(task, model, cal, config, version)


def score_task(loaded: LoadedTask, X: pd.DataFrame, costs: CostMatrix | None = None) -> pd.DataFrame:
    """Raw and calibrated probabilities, and for tasks with a cost matrix (fraud, ctr,
    conversion: :func:`default_costs`; or ``costs`` given) the Bayes minimum-risk decision and its threshold, per row of ``X``."""
    p_raw = loaded.model.predict_proba(X)
    p = loaded.calibrator.transform(p_raw)
    out = pd.DataFrame({"p_raw": p_raw, "probability": p}, index=X.index)
    if costs is None:
        costs = default_costs(loaded.task, X, loaded.config.get("options", {}))
    if costs is not None:
        thr = np.broadcast_to(np.asarray(bayes_threshold(costs, len(X)), dtype=float), (len(X),))
        out["threshold"] = thr
        out["decision"] = (p >= thr).astype(np.int8)
    return out


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    return obj


__all__ = [
    "TASK_MODELS",
    "TASK_OPTIONS",
    "LoadedTask",
    "churn_cutoffs",
    "churn_frame",
    "churn_orders",
    "conversion_rows",
    "ctr_rows",
    "default_costs",
    "fraud_costs",
    "fraud_features",
    "fraud_orders",
    "load_task",
    "make_model",
    "score_task",
    "scoring_data",
    "sequence_groups",
    "task_options",
    "train_task",
    "training_data",
    "value_costs",
]
