"""What to watch once a model is served: drift of its inputs and scores against the training
snapshot, and its realised quality and decision cost as outcomes arrive.

A :class:`Reference` summarises a training set (per numeric feature its decile edges and the
share of rows between them; per categorical feature the shares of its most common values; the
same for the model's scores) in a few hundred JSON numbers, saved beside the model. Later rows
are compared with it by the population stability index,

    PSI = sum_b (q_b - p_b) * ln(q_b / p_b)

over the reference bins ``b`` (``p``: training share, ``q``: served share; both floored at
1e-4 so empty bins stay finite). The usual reading (Siddiqi, *Credit Risk Scorecards*, 2006):
below 0.1 stable, 0.1-0.25 a moderate shift, above 0.25 a major one.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError

FLOOR = 1e-4
BINS = 10
TOP_CATEGORIES = 20
OTHER = "__other__"
#: PSI levels of the usual reading: stable below the first, major shift above the second
PSI_MODERATE, PSI_MAJOR = 0.1, 0.25


def _numeric_bins(values: np.ndarray) -> dict[str, Any]:
    v = values[np.isfinite(values)]
    if not len(v):
        return {"kind": "numeric", "edges": [], "shares": [], "missing": 1.0}
    edges = np.unique(np.quantile(v, np.linspace(0, 1, BINS + 1)[1:-1]))
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    return {
        "kind": "numeric",
        "edges": edges.tolist(),
        "shares": (counts / len(values)).tolist(),
        "missing": float(1 - len(v) / len(values)),
    }


def _numeric_shares(spec: dict[str, Any], values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    v = values[np.isfinite(values)]
    edges = np.asarray(spec["edges"], dtype=float)
    counts = np.bincount(np.searchsorted(edges, v, side="right"), minlength=len(edges) + 1)
    q = np.append(counts / max(len(values), 1), 1 - len(v) / max(len(values), 1))
    p = np.append(np.asarray(spec["shares"], dtype=float), spec["missing"])
    return p, q


def _categorical_bins(values: pd.Series) -> dict[str, Any]:
    shares = values.astype(str).value_counts(normalize=True, dropna=False)
    top = shares.iloc[:TOP_CATEGORIES]
    return {"kind": "categorical", "values": top.index.tolist(), "shares": top.tolist()}


def _categorical_shares(spec: dict[str, Any], values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    shares = values.astype(str).value_counts(normalize=True, dropna=False)
    q = shares.reindex(spec["values"]).fillna(0.0).to_numpy()
    p = np.asarray(spec["shares"], dtype=float)
    return np.append(p, max(0.0, 1 - p.sum())), np.append(q, max(0.0, 1 - q.sum()))


def psi(p: np.ndarray, q: np.ndarray) -> float:
    """Population stability index of shares ``q`` against reference shares ``p``."""
    p = np.maximum(np.asarray(p, dtype=float), FLOOR)
    q = np.maximum(np.asarray(q, dtype=float), FLOOR)
    return float(np.sum((q - p) * np.log(q / p)))


@dataclass
class Reference:
    """The training snapshot of a model's inputs and scores (JSON-ready, see the module doc)."""

    features: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: dict[str, Any] | None = None
    rows: int = 0

    @classmethod
    def from_frame(cls, X: pd.DataFrame, scores: np.ndarray | None = None) -> Reference:
        """Summarise training rows ``X`` (and the model's scores on them)."""
        if not len(X):
            raise ValidationError("a monitoring reference needs at least one row")
        feats: dict[str, dict[str, Any]] = {}
        for col in X.columns:
            s = X[col]
            if pd.api.types.is_bool_dtype(s) or not pd.api.types.is_numeric_dtype(s):
                feats[str(col)] = _categorical_bins(s)
            else:
                feats[str(col)] = _numeric_bins(s.to_numpy(dtype=float))
        ref = None if scores is None else _numeric_bins(np.asarray(scores, dtype=float))
        return cls(feats, ref, len(X))

    def to_dict(self) -> dict[str, Any]:
        return {"features": self.features, "scores": self.scores, "rows": self.rows}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Reference:
        return cls(dict(d.get("features") or {}), d.get("scores"), int(d.get("rows", 0)))

    def input_drift(self, X: pd.DataFrame) -> dict[str, float]:
        """PSI per feature of rows ``X`` against the training rows (features ``X`` lacks are
        skipped)."""
        out = {}
        for col, spec in self.features.items():
            if col not in X.columns or not len(X):
                continue
            if spec["kind"] == "numeric":
                values = pd.to_numeric(X[col], errors="coerce").to_numpy(dtype=float)
                p, q = _numeric_shares(spec, values)
            else:
                p, q = _categorical_shares(spec, X[col])
            out[col] = psi(p, q)
        return out

    def score_drift(self, scores: np.ndarray) -> float | None:
        """PSI of served scores against the scores on the training rows."""
        if self.scores is None or not len(scores):
            return None
        p, q = _numeric_shares(self.scores, np.asarray(scores, dtype=float))
        return psi(p, q)


def decision_costs(
    y: np.ndarray, act: np.ndarray, tp: np.ndarray | float, fp: np.ndarray | float,
    fn: np.ndarray | float, tn: np.ndarray | float,
) -> dict[str, float]:
    """Realised cost of the decisions ``act`` on outcomes ``y`` against acting on nobody.

    Costs may be per row (fraud: a missed fraud costs its order's value). ``excess`` is the
    share by which the decisions cost more than doing nothing (negative: they save).
    """
    y = np.asarray(y, dtype=bool)
    act = np.asarray(act, dtype=bool)
    n = len(y)
    shape = (n,)
    tp, fp, fn, tn = (np.broadcast_to(np.asarray(c, dtype=float), shape) for c in (tp, fp, fn, tn))
    cost = np.where(act, np.where(y, tp, fp), np.where(y, fn, tn)).sum()
    nothing = np.where(y, fn, tn).sum()
    return {
        "rows": float(n),
        "acted": float(act.sum()),
        "cost": float(cost),
        "cost_do_nothing": float(nothing),
        "excess": float(cost / nothing - 1) if nothing > 0 else float("nan"),
    }


def drift_level(value: float | None) -> str:
    """``stable``, ``moderate`` or ``major`` (see the module docstring), or ``unknown``."""
    if value is None or not np.isfinite(value):
        return "unknown"
    return "stable" if value < PSI_MODERATE else "moderate" if value < PSI_MAJOR else "major"
