"""``conversion``: a row is a session at its ``n``-th browsing event.

Features from :func:`shopml.predict.session_prefix.session_prefixes` (the first ``n`` events,
ordered by the SQL expression ``order_by``, and what is known of the session and user then);
label = the session has a purchase. Training: sessions ordered by their first event, the last
``validation_fraction`` validates. Scoring: every session that reached its ``n``-th event
unconverted. Decision: act on the session (a nudge, a retargeting slot) for ``action_cost``
when ``P(purchase) >= action_cost / conversion_value``; the defaults (a conversion worth 1, an
action 0.1) are placeholders. The ``gru`` model reads the step columns as sequences.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shopml.evaluation.splits import tail_split
from shopml.predict.decision import CostMatrix
from shopml.predict.tasks.base import TABULAR_MODELS, Scoring, Task, Training, value_costs


def conversion_rows(
    ws: Any, options: dict[str, Any]
) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, pd.Series]:
    """Session ids, prefix features, purchase labels and session start times, in time order."""
    from shopml.predict.session_prefix import session_prefixes

    data = session_prefixes(ws, int(options["n"]), order_by=str(options["order_by"]))
    return data.session_id.astype(str), data.X, data.y.astype(float), data.start


def _training(ws: Any, options: dict[str, Any]) -> Training:
    _, X, y, start = conversion_rows(ws, options)
    return tail_split("conversion", X, y, start, options["validation_fraction"])


def _scoring(ws: Any, options: dict[str, Any]) -> Scoring:
    ids, X, _, _ = conversion_rows(ws, options)
    return ids, X


def _costs(X: pd.DataFrame, options: Mapping[str, Any]) -> CostMatrix:
    return value_costs(options.get("conversion_value", 1.0), options.get("action_cost", 0.1))


CONVERSION = Task(
    name="conversion",
    entity="session_id",
    tables=("events", "items"),
    options={
        "n": 2,
        "order_by": "ts",
        "validation_fraction": 0.2,
        "conversion_value": 1.0,
        "action_cost": 0.1,
    },
    # the session-prefix builder returns categorical columns as object: inferred from dtypes
    categorical=None,
    models=(*TABULAR_MODELS, "deepfm", "dcn", "gru"),
    training=_training,
    scoring=_scoring,
    costs=_costs,
    label="the session has a purchase",
    split="sessions ordered by their first event; the last `validation_fraction` validates",
)
