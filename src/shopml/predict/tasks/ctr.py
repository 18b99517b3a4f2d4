"""``ctr``: a row is a logged impression (a shown item).

Features from :func:`shopml.predict.impressions.impression_features` (position, item and its
catalogue row, the context's user features); label = clicked. Training: impressions in time
order, the last ``validation_fraction`` validates. Scoring: every impression. Decision: show the
item when ``P(click) >= impression_cost / click_value`` (:func:`value_costs`). The cost defaults
are placeholders (a click worth 1, an impression 0.01): pass the shop's own numbers.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shopml.evaluation.splits import tail_split
from shopml.predict.decision import CostMatrix
from shopml.predict.tasks.base import TABULAR_MODELS, Scoring, Task, Training, value_costs


def ctr_rows(ws: Any) -> tuple[np.ndarray, pd.DataFrame, np.ndarray, pd.Series]:
    """Impression ids, features, click labels and times, in time order."""
    from shopml.predict.impressions import impression_features

    data = impression_features(ws)
    return data.impression_id.astype(str), data.X, data.y.astype(float), data.ts


def _training(ws: Any, options: dict[str, Any]) -> Training:
    _, X, y, ts = ctr_rows(ws)
    return tail_split("ctr", X, y, ts, options["validation_fraction"])


def _scoring(ws: Any, options: dict[str, Any]) -> Scoring:
    ids, X, _, _ = ctr_rows(ws)
    return ids, X


def _costs(X: pd.DataFrame, options: Mapping[str, Any]) -> CostMatrix:
    return value_costs(options.get("click_value", 1.0), options.get("impression_cost", 0.01))


CTR = Task(
    name="ctr",
    entity="impression_id",
    tables=("impressions", "items"),
    options={"validation_fraction": 0.2, "click_value": 1.0, "impression_cost": 0.01},
    # the impression builder returns categorical columns as object: inferred from the dtypes
    categorical=None,
    models=(*TABULAR_MODELS, "deepfm", "dcn"),
    training=_training,
    scoring=_scoring,
    costs=_costs,
    label="the impression was clicked",
    split="impressions in time order; the last `validation_fraction` validates",
)
