"""``fraud``: a row is an order; its features are known at the moment of purchase.

Features (:func:`fraud_features`): value, the account's age, sex and sign-up time, source,
browser, hour, weekday, and how many strictly earlier orders and other accounts used the same
device; label = the order's fraud label (``labels`` named ``is_fraud`` or ``fraud`` on entity
``order``). Training: labelled orders in time order, the last ``validation_fraction``
validates. Scoring: every order. The decision uses a cost matrix: review ``review_cost`` per
flagged order, a missed fraud costs its value plus ``chargeback_fee``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError
from shopml.evaluation.splits import tail_split
from shopml.predict.decision import CostMatrix
from shopml.predict.features import entity_sharing
from shopml.predict.tasks.base import TABULAR_MODELS, Scoring, Task, Training

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


def _no_labels() -> DataError:
    return DataError(
        f"the workspace has no orders with a fraud label (labels named {list(FRAUD_LABELS)})"
    )


def fraud_orders(ws: Any, labelled_only: bool = True) -> pd.DataFrame:
    """Orders (one row per order, in time order) with the account's attributes and the label."""
    frame = ws.sql(FRAUD_ORDERS_SQL)
    if labelled_only:
        frame = frame[frame["label"].notna()]
        if frame.empty:
            raise _no_labels()
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


def fraud_costs(
    X: pd.DataFrame, review_cost: float = 5.0, chargeback_fee: float = 15.0
) -> CostMatrix:
    """Review every flagged order for ``review_cost``; a missed fraud costs its value + fee."""
    value = X["purchase_value"].to_numpy(dtype=float)
    return CostMatrix(tp=review_cost, fp=review_cost, fn=value + chargeback_fee, tn=0.0)


def _training(ws: Any, options: dict[str, Any]) -> Training:
    orders = fraud_orders(ws, labelled_only=False)
    X = fraud_features(orders)
    lab = orders["label"].notna().to_numpy()
    X, y = X[lab].reset_index(drop=True), orders.loc[lab, "label"].to_numpy(dtype=float)
    if not len(y):
        raise _no_labels()
    return tail_split("fraud", X, y, orders.loc[lab, "ts"], options["validation_fraction"])


def _scoring(ws: Any, options: dict[str, Any]) -> Scoring:
    orders = fraud_orders(ws, labelled_only=False)
    return orders["order_id"].astype(str).to_numpy(), fraud_features(orders)


def _outcomes(ws: Any, options: dict[str, Any]) -> pd.DataFrame:
    """Every labelled order: its id, time and label."""
    orders = fraud_orders(ws, labelled_only=False)
    orders = orders[orders["label"].notna()]
    return pd.DataFrame(
        {"id": orders["order_id"].astype(str), "ts": orders["ts"], "y": orders["label"].astype(float)}
    )


def _costs(X: pd.DataFrame, options: Mapping[str, Any]) -> CostMatrix:
    return fraud_costs(
        X, float(options.get("review_cost", 5.0)), float(options.get("chargeback_fee", 15.0))
    )


FRAUD = Task(
    name="fraud",
    entity="order_id",
    tables=("orders", "labels"),
    options={"validation_fraction": 0.2, "review_cost": 5.0, "chargeback_fee": 15.0},
    categorical=tuple(FRAUD_CATEGORICAL),
    models=TABULAR_MODELS,
    training=_training,
    scoring=_scoring,
    costs=_costs,
    outcomes=_outcomes,
    label="the order's fraud label",
    split="labelled orders in time order; the last `validation_fraction` validates",
)
