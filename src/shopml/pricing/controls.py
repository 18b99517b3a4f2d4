"""Log-log elasticity with controls: calendar, promotions and category seasonality."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopml.pricing.base import ElasticityModel
from shopml.pricing.data import calendar_dummies
from shopml.pricing.glm import poisson_slopes


class ControlsLogLog(ElasticityModel):
    """:math:`E[y_{it}] = \\exp(a_i + \\epsilon_i \\log p_{it} + z_t'\\gamma)` (Poisson, log link).

    Controls :math:`z_t`: month and (for daily data) weekday dummies shared by all products, the
    share of the period on promotion, numeric exogenous columns of the panel, and with
    ``category_season`` a yearly cosine/sine pair per category (each category's own season).
    Product intercepts absorb the level (and so the category main effect). Fitted by Newton
    steps on all parameters jointly (:func:`joint_poisson`).
    """

    def __init__(
        self,
        pooling: str = "partial",
        level: float = 95.0,
        recent_periods: int | None = None,
        category_season: bool = True,
        max_iter: int = 30,
    ) -> None:
        super().__init__(pooling=pooling, level=level, recent_periods=recent_periods)
        self.category_season = category_season
        self.max_iter = max_iter

    def _estimate(
        self, panel: pd.DataFrame, item: np.ndarray, n_items: int
    ) -> tuple[np.ndarray, np.ndarray]:
        Z = controls_matrix(panel, self.freq_, self.category_season)
        x = np.log(panel["price"].to_numpy())
        y = panel["y"].to_numpy()
        return joint_poisson(item, x, y, Z, n_items, int(self.max_iter))


def joint_poisson(
    item: np.ndarray, x: np.ndarray, y: np.ndarray, Z: np.ndarray, n_items: int, max_iter: int
) -> tuple[np.ndarray, np.ndarray]:
    """Newton on all parameters at once, the product blocks eliminated by their Schur complement.

    Prices that follow the season are nearly collinear with the seasonal controls, where
    alternating between the two blocks crawls; the joint step does not. The slope's standard
    error is its per-product sandwich given the controls, plus the (model-based) share of the
    controls' own uncertainty.
    """
    k = Z.shape[1]
    a, b, _ = poisson_slopes(item, x, y, n_groups=n_items)
    gamma = np.zeros(k)

    def sums(w: np.ndarray) -> np.ndarray:
        return np.bincount(item, weights=w, minlength=n_items)

    def blocks(mu: np.ndarray):
        d00, d01, d11 = sums(mu) + 1e-9, sums(mu * x), sums(mu * x * x) + 1e-9
        ca = np.stack([sums(mu * Z[:, j]) for j in range(k)], axis=1)  # (n, k)
        cb = np.stack([sums(mu * x * Z[:, j]) for j in range(k)], axis=1)
        det = d00 * d11 - d01 * d01
        det = np.where(det > 1e-12, det, np.inf)
        return d00, d01, d11, ca, cb, det

    for _ in range(max_iter):
        eta = np.clip(a[item] + b[item] * x + Z @ gamma, -30, 30)
        mu = np.exp(eta)
        r = y - mu
        ga, gb, gg = sums(r), sums(r * x), Z.T @ r
        d00, d01, d11, ca, cb, det = blocks(mu)
        # D^-1 applied to (ga, gb) and to the columns of C
        ia = (d11 * ga - d01 * gb) / det
        ib = (d00 * gb - d01 * ga) / det
        ica = (d11[:, None] * ca - d01[:, None] * cb) / det[:, None]
        icb = (d00[:, None] * cb - d01[:, None] * ca) / det[:, None]
        S = (Z * mu[:, None]).T @ Z - ca.T @ ica - cb.T @ icb + 1e-8 * np.eye(k)
        rhs = gg - ca.T @ ia - cb.T @ ib
        dg = np.linalg.solve(S, rhs)
        da = ia - ica @ dg
        db = ib - icb @ dg
        step = min(1.0, 2.0 / max(np.max(np.abs(db)), np.max(np.abs(dg)), 1e-12))
        a, b, gamma = a + step * da, b + step * db, gamma + step * dg
        if max(np.max(np.abs(db)), np.max(np.abs(dg))) < 1e-7:
            break
    offset = Z @ gamma
    _, b, se = poisson_slopes(item, x, y, offset=offset, n_groups=n_items)
    mu = np.exp(np.clip(a[item] + b[item] * x + offset, -30, 30))
    d00, d01, d11, ca, cb, det = blocks(mu)
    ica = (d11[:, None] * ca - d01[:, None] * cb) / det[:, None]
    icb = (d00[:, None] * cb - d01[:, None] * ca) / det[:, None]
    S = (Z * mu[:, None]).T @ Z - ca.T @ ica - cb.T @ icb + 1e-8 * np.eye(k)
    extra = np.einsum("ij,jk,ik->i", icb, np.linalg.inv(S), icb)
    return b, np.sqrt(se**2 + np.maximum(extra, 0))


def controls_matrix(panel: pd.DataFrame, freq: str, category_season: bool) -> np.ndarray:
    """The shared control columns (centred, so the product intercepts keep the level)."""
    parts = [calendar_dummies(panel["ds"], freq)]
    if "promo" in panel.columns:
        parts.append(panel[["promo"]].to_numpy(dtype=float))
    extra = [
        c for c in panel.columns
        if c not in ("unique_id", "ds", "y", "price", "category", "promo", "cost")
        and pd.api.types.is_numeric_dtype(panel[c])
    ]
    if extra:
        parts.append(panel[extra].fillna(0.0).to_numpy(dtype=float))
    if category_season:
        doy = pd.to_datetime(panel["ds"]).dt.dayofyear.to_numpy()
        ang = 2 * np.pi * doy / 365.25
        cat = pd.get_dummies(panel["category"]).to_numpy(dtype=float)
        parts += [cat * np.cos(ang)[:, None], cat * np.sin(ang)[:, None]]
    Z = np.hstack(parts)
    Z = Z - Z.mean(axis=0)
    keep = Z.std(axis=0) > 1e-12
    return Z[:, keep]
