"""``churn`` (purchase propensity): a row is a customer at a cutoff day.

Features from their completed orders up to the cutoff (:func:`churn_frame`); label = an order
in the next ``horizon`` days. Training uses rolling cutoffs: the last cutoff whose label window
is fully observed validates (calibration), ``n_train`` earlier ones, ``step`` days apart, train.
Scoring: every customer at the last order day. No decision by default.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError
from shopml.predict.features import purchase_features, purchase_label
from shopml.predict.tasks.base import TABULAR_MODELS, Scoring, Task, Training

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


def churn_frame(
    orders: pd.DataFrame, cutoff: Any, horizon: int | None
) -> tuple[pd.DataFrame, np.ndarray | None]:
    """Features at ``cutoff`` for every customer with an order by then; labels for
    ``(cutoff, cutoff + horizon]`` (``None`` without a horizon)."""
    X = purchase_features(orders, cutoff)
    if "country" in orders.columns:
        country = orders.drop_duplicates("user_id").set_index("user_id")["country"]
        if country.notna().any():
            X["country"] = country.reindex(X.index).astype(object).to_numpy()
    if horizon is None:
        return X, None
    return X, purchase_label(orders, X.index, cutoff, horizon).to_numpy(dtype=float)


def churn_cutoffs(
    orders: pd.DataFrame,
    horizon: int,
    step: int,
    n_train: int,
    end: pd.Timestamp | None = None,
) -> tuple[pd.Timestamp, list[pd.Timestamp]]:
    """(validation cutoff, training cutoffs) ending at ``end`` (default: the last order day):
    the validation labels end at ``end``, training labels end ``step`` days or more before it."""
    first = orders["ts"].min().floor("D")
    end = orders["ts"].max().floor("D") if end is None else end
    val = end - pd.Timedelta(days=int(horizon))
    train = [val - pd.Timedelta(days=int(step) * j) for j in range(1, int(n_train) + 1)]
    train = [c for c in train if c >= first + pd.Timedelta(days=int(step))]
    if val < first + pd.Timedelta(days=int(step)) or not train:
        raise DataError(
            f"orders span {first.date()}..{end.date()}: too short for a {horizon}-day horizon "
            f"with a validation cutoff and training cutoffs {step} days apart before it"
        )
    return val, train


def _training(ws: Any, options: dict[str, Any]) -> Training:
    orders = churn_orders(ws)
    val_c, train_cs = churn_cutoffs(
        orders, options["horizon"], options["step"], options["n_train"]
    )
    parts = [churn_frame(orders, c, options["horizon"]) for c in train_cs]
    Xtr = pd.concat([p[0] for p in parts], ignore_index=True)
    ytr = np.concatenate([p[1] for p in parts])
    Xv, yv = churn_frame(orders, val_c, options["horizon"])
    info = {
        "train_cutoffs": [str(c.date()) for c in train_cs],
        "validation_cutoff": str(val_c.date()),
    }
    return Xtr, ytr, Xv.reset_index(drop=True), yv, info


def _scoring(ws: Any, options: dict[str, Any]) -> Scoring:
    orders = churn_orders(ws)
    X, _ = churn_frame(orders, orders["ts"].max().floor("D"), None)
    return X.index.to_numpy(dtype=object).astype(str), X.reset_index(drop=True)


CHURN = Task(
    name="churn",
    entity="user_id",
    tables=("orders",),
    options={"horizon": 90, "step": 30, "n_train": 3},
    categorical=("country",),
    models=TABULAR_MODELS,
    training=_training,
    scoring=_scoring,
    label="an order in the next `horizon` days after the cutoff",
    split="rolling cutoffs: the last fully observed one validates, `n_train` earlier ones train",
)
