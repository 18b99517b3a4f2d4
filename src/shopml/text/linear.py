"""Linear heads (logistic regression, ridge) chosen on a validation part, kept as plain arrays.

scikit-learn fits them; what is kept is the coefficient matrix and the intercepts, so a saved
model is arrays in an ``.npz`` and predicting is one matrix product (no pickle, no sklearn object
to rebuild). The regularisation strength (and, for classes, the class weighting) is chosen on a
validation part carved from the training rows; the head is then refitted on all of them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopml.text.base import softmax, validation_split

C_GRID = (0.25, 1.0, 4.0, 16.0)
ALPHA_GRID = (0.1, 1.0, 10.0, 100.0)


@dataclass
class LinearHead:
    """``coef`` (K, d) and ``intercept`` (K,) for classes; (1, d) and (1,) for a score."""

    coef: np.ndarray
    intercept: np.ndarray
    kind: str
    params: dict[str, Any]

    def raw(self, X: Any) -> np.ndarray:
        """Class probabilities (n, K) or scores (n,)."""
        z = np.asarray(X @ self.coef.T) + self.intercept
        if self.kind == "score":
            return z[:, 0]
        return softmax(z)


def _fit_one(
    X: Any,
    y: np.ndarray,
    kind: str,
    sw: np.ndarray | None,
    n_classes: int,
    seed: int,
    **params: Any,
) -> LinearHead:
    from sklearn.linear_model import LogisticRegression, Ridge

    if kind == "score":
        m = Ridge(alpha=params["alpha"], random_state=seed).fit(X, y, sample_weight=sw)
        return LinearHead(
            np.atleast_2d(m.coef_).astype(np.float32),
            np.atleast_1d(m.intercept_).astype(np.float32),
            kind,
            params,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lbfgs's convergence note on a capped max_iter
        m = LogisticRegression(
            C=params["C"], class_weight=params["class_weight"], max_iter=300, random_state=seed
        ).fit(X, y, sample_weight=sw)
    coef = np.zeros((n_classes, X.shape[1]), np.float32)
    icpt = np.zeros(n_classes, np.float32)
    if len(m.classes_) == 2 and m.coef_.shape[0] == 1:
        # binary: sklearn keeps one row (logit of the second class); as a softmax, [0, z]
        coef[m.classes_[1]] = m.coef_[0]
        icpt[m.classes_[1]] = m.intercept_[0]
    else:
        coef[m.classes_] = m.coef_
        icpt[m.classes_] = m.intercept_
    # a class absent from the fitted rows keeps logit 0 minus a margin, never the argmax
    absent = np.setdiff1d(np.arange(n_classes), m.classes_)
    icpt[absent] = -30.0
    return LinearHead(coef, icpt, kind, params)


def _val_score(head: LinearHead, X: Any, y: np.ndarray) -> float:
    """Higher is better: macro-F1 for classes, minus the mean squared error for a score."""
    from sklearn.metrics import f1_score

    raw = head.raw(X)
    if head.kind == "score":
        return -float(np.mean((raw - y) ** 2))
    return float(f1_score(y, raw.argmax(axis=1), average="macro"))


def fit_linear(
    X: Any,
    y: np.ndarray,
    kind: str,
    n_classes: int,
    sample_weight: np.ndarray | None = None,
    seed: int = 0,
    validation_fraction: float = 0.15,
    C: float | None = None,
    class_weight: str | None = "auto",
) -> LinearHead:
    """Choose the regularisation on a validation part, then refit on every row."""
    if kind == "score":
        grid = [{"alpha": 1.0 / C}] if C else [{"alpha": a} for a in ALPHA_GRID]
    else:
        cs = [C] if C else list(C_GRID)
        cws = [None, "balanced"] if class_weight == "auto" else [class_weight]
        grid = [{"C": c, "class_weight": cw} for c in cs for cw in cws]
    params = grid[0]
    if len(grid) > 1 and len(y) >= 20:
        tr, va = validation_split(y, validation_fraction, seed, kind)
        sw = None if sample_weight is None else sample_weight[tr]
        scores = [
            _val_score(_fit_one(X[tr], y[tr], kind, sw, n_classes, seed, **p), X[va], y[va])
            for p in grid
        ]
        params = grid[int(np.argmax(scores))]
        params = {**params, "validation_score": round(max(scores), 5)}
    fit_params = {k: v for k, v in params.items() if k != "validation_score"}
    head = _fit_one(X, y, kind, sample_weight, n_classes, seed, **fit_params)
    head.params = params
    return head
