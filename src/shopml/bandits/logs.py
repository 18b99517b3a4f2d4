"""Reading logged decisions from any workspace ``impressions`` table (with propensities).

The context JSON is flattened in DuckDB (no Python loop over rows): every scalar key becomes a
column ``ctx.<key>`` (numbers as numbers, anything else as text) and every list of numbers whose
length equals the number of arms becomes ``ctx.<key>@action``, the list's entry for the logged
action (the Open Bandit Dataset's user-item affinity), when actions are arm numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _lit(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def read_impressions(ws: Any, where: str = "", params: list | None = None) -> pd.DataFrame:
    """Impressions with a propensity and a reward, context flattened, ordered by time."""
    cond = "propensity IS NOT NULL AND reward IS NOT NULL AND action IS NOT NULL"
    if where:
        cond += f" AND ({where})"
    n = ws.sql(f"SELECT count(*) AS n FROM impressions WHERE {cond}", params).n.iloc[0]
    if not n:
        raise DataError(
            "the workspace has no impressions with action, reward and propensity"
            + (f" where {where}" if where else "")
        )
    keys = ws.sql(
        "SELECT k, any_value(json_type(context, '$.\"' || k || '\"')) AS t FROM ("
        f"SELECT unnest(json_keys(context)) AS k, context FROM impressions WHERE {cond} "
        "AND context IS NOT NULL) GROUP BY k ORDER BY k",
        params,
    )
    cols = []
    lists = []
    for k, t in zip(keys.k, keys.t, strict=True):
        path = _lit(f'$."{k}"')
        if t in ("BIGINT", "UBIGINT", "DOUBLE"):
            cols.append(
                f"TRY_CAST(json_extract(context, {path}) AS DOUBLE) AS {_ident('ctx.' + k)}"
            )
        elif t == "ARRAY":
            lists.append(k)
            cols.append(
                f"TRY_CAST(json_extract(context, {path}) AS DOUBLE[]) AS {_ident('list.' + k)}"
            )
        else:
            cols.append(f"json_extract_string(context, {path}) AS {_ident('ctx.' + k)}")
    sel = ", ".join(
        [
            "impression_id",
            "ts",
            "action",
            "position",
            "reward",
            "propensity",
            "policy",
            "campaign",
            *cols,
        ]
    )
    df = ws.sql(f"SELECT {sel} FROM impressions WHERE {cond} ORDER BY ts, impression_id", params)
    df["position"] = df["position"].fillna(1).astype(np.int64)
    arm = pd.to_numeric(df["action"], errors="coerce")
    for k in lists:
        col = df.pop("list." + k)
        lengths = col.map(lambda v: -1 if v is None else len(v)).to_numpy()
        if arm.notna().all() and (lengths == lengths.max()).all() and arm.max() < lengths.max():
            mat = np.vstack(col.to_numpy())  # one C-level stack, rows x arms
            df["ctx." + k + "@action"] = mat[np.arange(len(df)), arm.to_numpy(int)]
            df.attrs.setdefault("lists", {})[k] = mat
    return df


def context_columns(df: pd.DataFrame) -> list[str]:
    """The flattened context columns of :func:`read_impressions`' frame."""
    return [c for c in df.columns if c.startswith("ctx.")]


@dataclass
class ContextEncoder:
    """Context columns -> standardised numbers and one-hot levels, for contextual policies."""

    numeric: list[str]
    mean: np.ndarray
    std: np.ndarray
    levels: dict[str, list[str]]

    @classmethod
    def fit(
        cls, df: pd.DataFrame, max_levels: int = 10, exclude: tuple[str, ...] = ()
    ) -> ContextEncoder:
        cols = [c for c in context_columns(df) if not c.endswith("@action") and c not in exclude]
        numeric = [c for c in cols if pd.api.types.is_numeric_dtype(df[c])]
        levels = {
            c: df[c].astype(str).value_counts().index[:max_levels].tolist()
            for c in cols
            if c not in numeric
        }
        X = df[numeric].to_numpy(float) if numeric else np.zeros((len(df), 0))
        mean = np.nanmean(X, axis=0) if numeric else np.zeros(0)
        std = np.nanstd(X, axis=0) if numeric else np.zeros(0)
        return cls(numeric, mean, np.where(std > 0, std, 1.0), levels)

    @property
    def n_features(self) -> int:
        return len(self.numeric) + sum(len(v) for v in self.levels.values())

    def transform(self, df: pd.DataFrame) -> np.ndarray:
        missing = [c for c in [*self.numeric, *self.levels] if c not in df.columns]
        if missing:
            raise ValidationError(f"context lacks {missing[:5]}")
        parts = [np.nan_to_num((df[self.numeric].to_numpy(float) - self.mean) / self.std)]
        for c, lv in self.levels.items():
            parts.append(
                (df[c].astype(str).to_numpy()[:, None] == np.asarray(lv)[None, :]).astype(float)
            )
        return np.hstack(parts) if parts else np.zeros((len(df), 0))


__all__ = ["ContextEncoder", "context_columns", "read_impressions"]


class _FrameSQL:
    """A DuckDB connection holding one ``impressions`` table, with ``Workspace.sql``'s signature."""

    def __init__(self, con: Any) -> None:
        self.con = con

    def sql(self, query: str, params: list | None = None) -> pd.DataFrame:
        return self.con.execute(query, params or []).df()


REQUIRED = ("action", "reward", "propensity")


def read_logs_file(path: str | Any) -> pd.DataFrame:
    """A CSV or Parquet log as :func:`read_impressions` reads a workspace.

    Needs ``action``, ``reward`` and ``propensity``; ``position`` (default 1), ``policy``,
    ``campaign``, ``ts`` and ``impression_id`` are optional; a ``context`` column holds JSON, and
    without it every other column is taken as the context.
    """
    from pathlib import Path

    import duckdb

    p = Path(path)
    if not p.is_file():
        raise DataError(f"no logs file {p}")
    reader = "read_parquet" if p.suffix.lower() in (".parquet", ".pq") else "read_csv_auto"
    con = duckdb.connect()
    con.execute(f"CREATE TABLE raw AS SELECT * FROM {reader}(?)", [str(p)])
    cols = [r[0] for r in con.execute("DESCRIBE raw").fetchall()]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise ValidationError(f"{p}: the logs need columns {list(REQUIRED)}; missing {missing}")
    known = {
        "impression_id",
        "ts",
        "action",
        "position",
        "reward",
        "propensity",
        "policy",
        "campaign",
        "context",
    }
    other = [c for c in cols if c not in known]
    if "context" in cols:
        ctx = "CAST(context AS JSON)"
    elif other:
        ctx = (
            "to_json(struct_pack(" + ", ".join(f"{_ident(c)} := {_ident(c)}" for c in other) + "))"
        )
    else:
        ctx = "'{}'::JSON"
    sel = {
        "impression_id": "CAST(impression_id AS VARCHAR)"
        if "impression_id" in cols
        else "CAST(row_number() OVER () AS VARCHAR)",
        "ts": "ts" if "ts" in cols else "row_number() OVER ()",
        "action": "CAST(action AS VARCHAR)",
        "position": "CAST(position AS INTEGER)" if "position" in cols else "1",
        "reward": "CAST(reward AS DOUBLE)",
        "propensity": "CAST(propensity AS DOUBLE)",
        "policy": "CAST(policy AS VARCHAR)" if "policy" in cols else "'logged'",
        "campaign": "CAST(campaign AS VARCHAR)" if "campaign" in cols else "NULL",
        "context": ctx,
    }
    con.execute(
        "CREATE TABLE impressions AS SELECT "
        + ", ".join(f"{v} AS {k}" for k, v in sel.items())
        + " FROM raw"
    )
    bad = con.execute(
        "SELECT count(*) FROM impressions WHERE propensity <= 0 OR propensity > 1"
    ).fetchone()[0]
    if bad:
        raise ValidationError(f"{p}: {bad} row(s) have a propensity outside (0, 1]")
    return read_impressions(_FrameSQL(con))
