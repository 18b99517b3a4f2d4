"""Click-through features from the workspace's ``impressions`` table, one row per shown item.

Each impression becomes a row of features known when it was shown, and the label
``reward > 0`` (clicked). The columns are discovered from the data, so the Open Bandit logs,
the simulator's slates and a shop's own logs all work without code:

- ``position`` (categorical: slots are not equally spaced in attention) and ``item`` (the
  shown action, categorical);
- every key of the ``context`` JSON: text values become categorical columns, numbers and
  booleans numeric ones, and a list of numbers is read *at the shown action's index* when the
  action is an integer index into it (Open Bandit's ``user_item_affinity``: one affinity per
  arm, so the row gets the affinity of the user to the item shown). Keys ending in ``_id``
  (decision and session identifiers: unique per row, they memorise and do not generalise)
  are left out, and so are nested objects;
- the shown item's catalogue row: ``item_category``, ``item_brand`` (categorical),
  ``item_price`` and each key of its ``attributes`` JSON as ``item_<key>``, by the same rules.

Columns with a single value over the selected rows carry no information and are dropped.
The logging ``policy`` is not a feature (it is not a property of the user, the item or the
slot), nor is the propensity. Rows come back in time order (``ts``, then ``impression_id``),
ready for a temporal split.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.data.ingest import ident, sql_str

_NUMERIC_TYPES = {"BIGINT", "UBIGINT", "DOUBLE", "BOOLEAN"}


@dataclass
class ImpressionData:
    """Features ``X`` (time-ordered), labels ``y`` (1 = clicked) and per-row keys."""

    X: pd.DataFrame
    y: np.ndarray
    ts: pd.Series
    impression_id: np.ndarray
    policy: np.ndarray
    categorical: list[str]
    numeric: list[str]
    dropped: dict[str, str] = field(default_factory=dict)  # column -> why it is not a feature

    def __len__(self) -> int:
        return len(self.y)


def _path(key: str) -> str:
    """A JSON path for one top-level key, quoted so dots and spaces in keys stay literal."""
    return sql_str("$." + json.dumps(key))


def _json_columns(
    ws: Any, table: str, column: str, where: str, prefix: str, action_expr: str | None
) -> tuple[list[str], dict[str, str], dict[str, str]]:
    """SQL select expressions for the keys of a JSON column, named ``prefix + key``.

    Returns (expressions, kinds by output name, dropped keys with the reason).
    """
    types = ws.sql(
        f"SELECT k, list(DISTINCT t) AS types FROM ("
        f"  SELECT k, json_type(json_extract({ident(column)}, '$.\"' || replace(k, '\"', '\\\"') || '\"')) AS t"
        f"  FROM (SELECT {ident(column)}, unnest(json_keys({ident(column)})) AS k FROM {table} WHERE {where})"
        f") GROUP BY k ORDER BY k"
    )
    exprs, kinds, dropped = [], {}, {}
    for key, tlist in zip(types["k"], types["types"], strict=True):
        seen = {t for t in tlist if t is not None and t != "NULL"}
        # Open Bandit's item attributes are already named item_feature_*: no item_item_feature_*
        name = key if key.startswith(prefix) else prefix + key
        src = f"{ident(column)}"
        if key.endswith("_id"):
            dropped[name] = "an identifier (unique per row: memorises, does not generalise)"
        elif not seen:
            dropped[name] = "always null"
        elif seen <= _NUMERIC_TYPES:
            exprs.append(f"TRY_CAST(json_extract({src}, {_path(key)}) AS DOUBLE) AS {ident(name)}")
            kinds[name] = "numeric"
        elif seen == {"ARRAY"} and action_expr is not None:
            # one value per arm: read the element at the shown action (arrays are 1-based in SQL)
            exprs.append(
                f"list_extract(TRY_CAST(json_extract({src}, {_path(key)}) AS DOUBLE[]), "
                f"TRY_CAST({action_expr} AS INTEGER) + 1) AS {ident(name)}"
            )
            kinds[name] = "numeric"
        elif seen & {"OBJECT", "ARRAY"}:
            dropped[name] = f"nested JSON ({sorted(seen)})"
        else:
            exprs.append(f"json_extract_string({src}, {_path(key)}) AS {ident(name)}")
            kinds[name] = "categorical"
    return exprs, kinds, dropped


def impression_features(
    ws: Any, where: str | None = None, limit: int | None = None
) -> ImpressionData:
    """CTR features and click labels from ``ws``'s impressions (see the module docstring).

    Parameters
    ----------
    ws:
        A :class:`shopml.data.Workspace` (anything with ``sql(query) -> DataFrame``).
    where:
        Optional SQL condition on the impressions table (e.g. ``"policy = 'random'"``).
    limit:
        Keep only the first ``limit`` rows in time order.
    """
    cond = f"({where})" if where else "TRUE"
    n = int(ws.sql(f"SELECT count(*) AS n FROM impressions WHERE {cond}")["n"].iloc[0])
    if n == 0:
        raise DataError(
            f"no impressions{' where ' + where if where else ''}: nothing to learn clicks from"
        )
    if limit is not None and int(limit) < 1:
        raise ValidationError(f"limit must be >= 1, got {limit}")
    ctx_exprs, kinds, dropped = _json_columns(ws, "impressions", "context", cond, "", "i.action")
    # item attributes hold no per-arm lists: a list there is nested data (action_expr=None)
    item_exprs, item_kinds, item_dropped = _json_columns(
        ws, "items", "attributes", "attributes IS NOT NULL", "item_", None
    )
    ctx_exprs = [e.replace(ident("context"), "i.context") for e in ctx_exprs]
    item_exprs = [e.replace(ident("attributes"), "it.attributes") for e in item_exprs]
    base = [
        "CAST(i.position AS VARCHAR) AS position",
        "i.action AS item",
        "it.category AS item_category",
        "it.brand AS item_brand",
        "it.price AS item_price",
    ]
    fixed = {
        "position": "categorical",
        "item": "categorical",
        "item_category": "categorical",
        "item_brand": "categorical",
        "item_price": "numeric",
    }
    for name in [*kinds, *item_kinds]:
        if name in fixed or (name in kinds and name in item_kinds):
            raise DataError(
                f"feature name {name!r} comes from two places (impression, context or item "
                "attributes); rename the key in the loader"
            )
    kinds = {**fixed, **kinds, **item_kinds}
    clash = sorted(set(kinds) & {"impression_id", "ts", "reward", "policy"})
    if clash:
        raise DataError(
            f"context keys {clash} clash with impression columns; rename them in the loader"
        )
    lim = f"LIMIT {int(limit)}" if limit is not None else ""
    frame = ws.sql(
        f"SELECT i.impression_id, i.ts, i.reward, i.policy, {', '.join(base + ctx_exprs + item_exprs)} "
        f"FROM (SELECT * FROM impressions WHERE {cond}) i "
        f"LEFT JOIN items it ON it.item_id = i.action "
        f"ORDER BY i.ts, i.impression_id {lim}"
    )
    if frame["reward"].isna().any():
        raise DataError(
            f"{int(frame['reward'].isna().sum())} impressions have no reward (click) recorded"
        )
    dropped.update(item_dropped)
    keep = []
    for c in kinds:
        s = frame[c]
        if s.nunique(dropna=False) <= 1:
            dropped[c] = "a single value in these rows"
        else:
            keep.append(c)
    X = frame[keep].copy()
    for c in keep:
        if kinds[c] == "numeric":
            X[c] = pd.to_numeric(X[c], errors="coerce").astype(np.float64)
        else:
            X[c] = X[c].astype(object)
    return ImpressionData(
        X=X.reset_index(drop=True),
        y=(frame["reward"].to_numpy(dtype=np.float64) > 0).astype(np.int8),
        ts=frame["ts"].reset_index(drop=True),
        impression_id=frame["impression_id"].to_numpy(dtype=object),
        policy=frame["policy"].to_numpy(dtype=object),
        categorical=[c for c in keep if kinds[c] == "categorical"],
        numeric=[c for c in keep if kinds[c] == "numeric"],
        dropped=dropped,
    )


__all__ = ["ImpressionData", "impression_features"]
