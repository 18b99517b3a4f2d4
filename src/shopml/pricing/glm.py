"""Poisson regressions with one slope per group, solved for all groups at once.

Units sold are counts with many zeros (a product sells 0, 1 or 2 a day), so "log-log" demand is
fitted as a Poisson pseudo-likelihood with a log link, :math:`E[y] = \\exp(a_g + b_g x + o)`
(PPML): consistent for a constant-elasticity curve whatever the count distribution, and unlike
``log(y)`` it keeps the zero days (dropping them biases every elasticity towards zero). Each
group's 2x2 Newton system is built with ``bincount``, so thousands of products cost one pass.
Standard errors are the robust sandwich (Huber-White) of each group's slope.
"""

from __future__ import annotations

import numpy as np

MAX_ETA = 30.0  # exp(30) ~ 1e13: larger linear predictors only appear while diverging


def poisson_slopes(
    group: np.ndarray,
    x: np.ndarray,
    y: np.ndarray,
    offset: np.ndarray | None = None,
    n_groups: int | None = None,
    iters: int = 50,
    ridge: float = 1e-8,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit :math:`y \\sim \\mathrm{Poisson}(\\exp(a_g + b_g x + \\mathrm{offset}))` per group.

    Returns ``(a, b, se_b)``; ``se_b`` is the sandwich standard error of each slope (``inf``
    where a group has no variation in ``x`` or no sales).
    """
    n_groups = int(group.max()) + 1 if n_groups is None else n_groups
    off = np.zeros_like(x) if offset is None else offset

    def sums(w: np.ndarray) -> np.ndarray:
        return np.bincount(group, weights=w, minlength=n_groups)

    # start from the group's mean rate with a zero slope
    ysum, n = sums(y), np.maximum(sums(np.ones_like(y)), 1)
    esum = sums(np.exp(np.clip(off, -MAX_ETA, MAX_ETA)))
    a = np.log(np.maximum(ysum, 0.5) / np.maximum(esum, 1e-12))
    b = np.zeros(n_groups)
    for _ in range(iters):
        eta = np.clip(a[group] + b[group] * x + off, -MAX_ETA, MAX_ETA)
        mu = np.exp(eta)
        r = y - mu
        g0, g1 = sums(r), sums(r * x)
        h00, h01, h11 = sums(mu) + ridge, sums(mu * x), sums(mu * x * x) + ridge
        det = h00 * h11 - h01 * h01
        det = np.where(det > 1e-12, det, np.inf)
        da = (h11 * g0 - h01 * g1) / det
        db = (h00 * g1 - h01 * g0) / det
        # damp steps so a group with few sales cannot jump to a degenerate corner
        step = np.minimum(1.0, 2.0 / np.maximum(np.abs(db), 1e-12))
        a, b = a + step * da, b + step * db
        if np.max(np.abs(db)) < 1e-8 and np.max(np.abs(da)) < 1e-8:
            break
    eta = np.clip(a[group] + b[group] * x + off, -MAX_ETA, MAX_ETA)
    mu = np.exp(eta)
    r = y - mu
    h00, h01, h11 = sums(mu), sums(mu * x), sums(mu * x * x)
    det = h00 * h11 - h01 * h01
    ok = (det > 1e-10 * np.maximum(h00 * h11, 1e-300)) & (ysum > 0) & (n > 2)
    det = np.where(ok, det, np.inf)
    # inverse Hessian rows for the slope: (-h01, h00) / det
    s = (-h01[group] * r + h00[group] * r * x) / det[group]
    se = np.sqrt(sums(s * s))
    se = np.where(ok, se, np.inf)
    b = np.where(ok, b, 0.0)
    return a, b, se


def poisson_offset_fit(
    Z: np.ndarray, y: np.ndarray, offset: np.ndarray, iters: int = 25, ridge: float = 1e-6
) -> np.ndarray:
    """Coefficients :math:`\\gamma` of :math:`y \\sim \\mathrm{Poisson}(\\exp(Z\\gamma + o))` (Newton)."""
    gamma = np.zeros(Z.shape[1])
    for _ in range(iters):
        mu = np.exp(np.clip(Z @ gamma + offset, -MAX_ETA, MAX_ETA))
        grad = Z.T @ (y - mu)
        hess = (Z * mu[:, None]).T @ Z + ridge * np.eye(Z.shape[1])
        delta = np.linalg.solve(hess, grad)
        gamma = gamma + delta
        if np.max(np.abs(delta)) < 1e-8:
            break
    return gamma
