"""Replenishment policies driven by forecast quantiles: newsvendor, base-stock and (s, S).

The only thing a policy reads from forecasting is a *quantile forecast frame* (the contract of
:mod:`shopml.forecast.base`: ``unique_id, ds, point, q0.025 .. q0.975``), or a fitted
forecaster, through :func:`demand_quantiles`; never a model's insides.

- Newsvendor: the order that minimises expected holding + shortage cost is the demand quantile at
  the critical ratio ``shortage / (holding + shortage)``; for Normal demand the expected cost at
  that level is ``(holding + shortage) * sigma * phi(z)``.
- Base-stock (periodic review, lead time ``L`` periods): order up to the quantile of demand over
  the protection period (``L + 1`` periods) at the cycle service level, or the smallest level
  whose expected shortage per review is at most ``(1 - fill rate) x`` the period's expected
  demand (the fill-rate target, read off the quantile function by the loss function
  ``E[(D - S)+] = integral of (Q(u) - S)+ du``).
- (s, S): reorder point ``s`` as base-stock; order up to ``s + Q`` with ``Q`` the economic order
  quantity ``sqrt(2 K d / h)`` when an order costs ``K``.

Protection-period demand from per-period quantiles: the median is the sum of the periods'
medians and each quantile's distance from it is the root of the sum of the periods' squared
distances (periods independent, as the normal case has it, while keeping each side's skew).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from shopml.core.errors import ValidationError

__all__ = [
    "base_stock_levels",
    "critical_ratio",
    "demand_quantiles",
    "expected_shortage",
    "fill_rate_level",
    "newsvendor_normal",
    "protection_quantiles",
    "quantile_at",
]


def critical_ratio(holding: float, shortage: float) -> float:
    """``shortage / (holding + shortage)``: the newsvendor's optimal service level."""
    if holding <= 0 or shortage <= 0:
        raise ValidationError(f"holding ({holding}) and shortage ({shortage}) costs must be > 0")
    return shortage / (holding + shortage)


def newsvendor_normal(
    mean: float, std: float, holding: float, shortage: float
) -> tuple[float, float]:
    """Order-up-to level and expected cost for Normal(``mean``, ``std``) demand.

    >>> [round(v, 4) for v in newsvendor_normal(120, 10, holding=2, shortage=18)]
    [132.8155, 35.0997]
    """
    if std < 0:
        raise ValidationError(f"std must be >= 0, got {std}")
    z = norm.ppf(critical_ratio(holding, shortage))
    return float(mean + z * std), float((holding + shortage) * std * norm.pdf(z))


def _grid(Q: np.ndarray, taus: np.ndarray, n: int = 401) -> tuple[np.ndarray, np.ndarray]:
    """The quantile function on a fine grid ``u`` (piecewise linear between the given
    quantiles, extended linearly into the tails, floored at zero)."""
    u = (np.arange(n) + 0.5) / n
    lo_slope = (Q[:, 1] - Q[:, 0]) / (taus[1] - taus[0])
    hi_slope = (Q[:, -1] - Q[:, -2]) / (taus[-1] - taus[-2])
    out = np.empty((Q.shape[0], n))
    inside = (u >= taus[0]) & (u <= taus[-1])
    for_inside = (
        np.stack([np.interp(u[inside], taus, q) for q in Q])
        if len(Q)
        else np.empty((0, inside.sum()))
    )
    out[:, inside] = for_inside
    left, right = u < taus[0], u > taus[-1]
    out[:, left] = Q[:, :1] + lo_slope[:, None] * (u[left] - taus[0])
    out[:, right] = Q[:, -1:] + hi_slope[:, None] * (u[right] - taus[-1])
    return u, np.clip(out, 0, None)


def quantile_at(Q: np.ndarray, taus: np.ndarray, level: float) -> np.ndarray:
    """Each row's quantile function at ``level`` (interpolated; tails extended linearly)."""
    _, G = _grid(np.asarray(Q, float), np.asarray(taus, float), n=2001)
    u = (np.arange(G.shape[1]) + 0.5) / G.shape[1]
    return np.array([np.interp(level, u, g) for g in G])


def expected_shortage(Q: np.ndarray, taus: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``E[(D - S)+]`` per row, from the quantile function."""
    _, G = _grid(np.asarray(Q, float), np.asarray(taus, float))
    return np.clip(G - np.asarray(S, float)[:, None], 0, None).mean(axis=1)


def fill_rate_level(Q: np.ndarray, taus: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """Per row, the smallest level ``S`` with ``E[(D - S)+] <= allowed`` (vectorised: the loss
    function is piecewise linear between the grid's values)."""
    _, G = _grid(np.asarray(Q, float), np.asarray(taus, float))
    G = np.sort(G, axis=1)
    n = G.shape[1]
    tail = np.cumsum(G[:, ::-1], axis=1)[:, ::-1]  # sum_{i >= j} G_i
    j = np.arange(n)
    loss = (tail - G * (n - j)) / n  # E[(D - G_j)+]
    allowed = np.asarray(allowed, float)[:, None]
    ok = loss <= allowed
    first = np.where(ok.any(axis=1), ok.argmax(axis=1), n - 1)
    prev = np.clip(first - 1, 0, None)
    rows = np.arange(G.shape[0])
    l0, l1 = loss[rows, prev], loss[rows, first]
    g0, g1 = G[rows, prev], G[rows, first]
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(l0 > l1, (l0 - allowed[:, 0]) / (l0 - l1), 1.0)
    S = g0 + np.clip(w, 0, 1) * (g1 - g0)
    return np.where(first == 0, G[:, 0], S)


def demand_quantiles(forecast: pd.DataFrame) -> tuple[pd.DataFrame, np.ndarray]:
    """Validate a quantile forecast frame; returns it and the sorted quantile levels."""
    if not isinstance(forecast, pd.DataFrame):
        raise ValidationError(
            f"forecast must be a DataFrame of quantiles, got {type(forecast).__name__}"
        )
    qcols = sorted((c for c in forecast.columns if c.startswith("q")), key=lambda c: float(c[1:]))
    missing = [c for c in ("unique_id", "ds", "point") if c not in forecast.columns]
    if missing or len(qcols) < 3:
        raise ValidationError(
            "forecast must have unique_id, ds, point and at least 3 quantile columns (q0.1, ...); "
            f"it has {list(forecast.columns)}"
        )
    taus = np.array([float(c[1:]) for c in qcols])
    if (taus <= 0).any() or (taus >= 1).any():
        raise ValidationError(f"quantile columns must lie in (0, 1): {qcols}")
    return forecast, taus


def protection_quantiles(forecast: pd.DataFrame, periods: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Quantiles of the demand over each series' first ``periods`` forecast periods (the
    protection period), combined as the module docstring says; also the summed point forecast."""
    fc, taus = demand_quantiles(forecast)
    if periods < 1:
        raise ValidationError(f"periods must be >= 1, got {periods}")
    fc = fc.sort_values(["unique_id", "ds"], kind="stable")
    fc = fc[fc.groupby("unique_id").cumcount() < periods]
    counts = fc.groupby("unique_id").size()
    short = counts[counts < periods]
    if len(short):
        raise ValidationError(
            f"{len(short)} series have fewer than {periods} forecast periods (e.g. {short.index[0]!r}); "
            "forecast at least lead_time + 1 periods"
        )
    qcols = [f"q{t:g}" for t in taus]
    Q = fc[qcols].to_numpy(float)
    med = np.array([np.interp(0.5, taus, q) for q in Q])
    dev = Q - med[:, None]
    g = pd.DataFrame(
        np.column_stack([med, dev**2 * np.sign(dev), fc["point"].to_numpy(float)]),
        index=fc["unique_id"].to_numpy(),
    )
    # separate sums of squares for each quantile column, signs kept by the column's side
    sums = g.groupby(level=0, sort=True).sum()
    center = sums[0].to_numpy()
    sq = sums[list(range(1, 1 + len(taus)))].to_numpy()
    Qp = center[:, None] + np.sign(sq) * np.sqrt(np.abs(sq))
    out = pd.DataFrame(np.sort(np.clip(Qp, 0, None), axis=1), columns=qcols)
    out.insert(0, "unique_id", sums.index.to_numpy())
    out["point"] = sums[1 + len(taus)].to_numpy()
    return out, taus


def base_stock_levels(
    forecast: pd.DataFrame,
    lead_time: int = 0,
    target: float = 0.95,
    service: str = "fill_rate",
) -> pd.DataFrame:
    """Order-up-to level per series from a quantile forecast frame.

    ``service='cycle'``: the protection-period demand's quantile at ``target`` (the chance of no
    stock-out in a cycle); ``service='fill_rate'``: the smallest level whose expected shortage
    per review is at most ``(1 - target)`` times one period's expected demand.
    Returns ``unique_id, level, protection_point``.
    """
    if not 0 < target < 1:
        raise ValidationError(f"target must lie in (0, 1), got {target}")
    if lead_time < 0:
        raise ValidationError(f"lead_time must be >= 0, got {lead_time}")
    prot, taus = protection_quantiles(forecast, lead_time + 1)
    Q = prot[[f"q{t:g}" for t in taus]].to_numpy(float)
    if service == "cycle":
        level = quantile_at(Q, taus, target)
    elif service == "fill_rate":
        first, _ = protection_quantiles(forecast, 1)
        per_period = first.set_index("unique_id")["point"].reindex(prot["unique_id"]).to_numpy()
        level = fill_rate_level(Q, taus, (1 - target) * np.clip(per_period, 1e-9, None))
    else:
        raise ValidationError(f"service must be 'cycle' or 'fill_rate', got {service!r}")
    return pd.DataFrame(
        {"unique_id": prot["unique_id"], "level": level, "protection_point": prot["point"]}
    )
