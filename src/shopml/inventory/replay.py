"""Replay base-stock policies over held-out demand: levels from any forecaster's quantiles
(rolling-origin forecasts, one cutoff per review period) against the textbook rule
``mean + z x sigma`` (moving average and standard deviation of past demand).

The forecasts reach inventory as a long quantile frame with a ``cutoff`` column (what
:meth:`shopml.forecast.Forecaster.cross_validation` gives, through
:func:`shopml.forecast.model_frame`): for the review at the period after each cutoff, the
policy's level comes from the forecasts of the ``lead_time + 1`` periods after that cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import norm

from shopml.core.errors import ValidationError
from shopml.inventory.policies import base_stock_levels
from shopml.inventory.simulate import SimulationResult, simulate

__all__ = ["forecast_levels", "replay", "rule_levels"]


def forecast_levels(cv: pd.DataFrame, lead_time: int, target: float, service: str) -> pd.DataFrame:
    """``unique_id, cutoff, level`` from a quantile forecast frame with cutoffs."""
    if "cutoff" not in cv.columns:
        raise ValidationError("the forecast frame needs a cutoff column (rolling-origin forecasts)")
    parts = []
    for c, part in cv.groupby("cutoff", sort=True):
        lv = base_stock_levels(part, lead_time, target, service)
        parts.append(lv[["unique_id", "level"]].assign(cutoff=c))
    return pd.concat(parts, ignore_index=True)


def _normal_loss(z: np.ndarray) -> np.ndarray:
    return norm.pdf(z) - z * norm.sf(z)


def rule_levels(
    df: pd.DataFrame,
    cutoffs: list[pd.Timestamp],
    lead_time: int,
    target: float,
    service: str = "cycle",
    mean_window: int = 8,
    sd_window: int = 26,
) -> pd.DataFrame:
    """The rule of thumb at each cutoff: ``(L+1) x mean + z x sigma x sqrt(L+1)``, with the
    mean over the last ``mean_window`` periods and sigma over the last ``sd_window``; ``z`` from
    the cycle service level, or (``fill_rate``) the normal loss function
    ``sigma_L G(z) = (1 - target) x mean``."""
    out = []
    wide = df.pivot(index="unique_id", columns="ds", values="y").sort_index(axis=1)
    cols = wide.columns
    zgrid = np.linspace(-4, 6, 4001)
    G = _normal_loss(zgrid)
    for c in cutoffs:
        past = wide.loc[:, cols[cols <= c]].to_numpy(float)
        m = np.nanmean(past[:, -mean_window:], axis=1)
        sd = (
            np.nanstd(past[:, -sd_window:], axis=1, ddof=1)
            if past.shape[1] > 1
            else np.zeros(len(wide))
        )
        m, sd = np.nan_to_num(m), np.nan_to_num(sd)
        sdl = sd * np.sqrt(lead_time + 1)
        if service == "cycle":
            z = np.full(len(m), norm.ppf(target))
        elif service == "fill_rate":
            allowed = (1 - target) * m
            with np.errstate(divide="ignore", invalid="ignore"):
                need = np.where(sdl > 0, allowed / sdl, np.inf)
            # G is decreasing: the smallest z whose loss is within the allowance
            idx = np.searchsorted(-G, -need, side="left")
            z = zgrid[np.clip(idx, 0, len(zgrid) - 1)]
        else:
            raise ValidationError(f"service must be 'cycle' or 'fill_rate', got {service!r}")
        level = np.clip((lead_time + 1) * m + z * sdl, 0, None)
        out.append(pd.DataFrame({"unique_id": wide.index.to_numpy(), "cutoff": c, "level": level}))
    return pd.concat(out, ignore_index=True)


def replay(
    df: pd.DataFrame,
    levels: pd.DataFrame,
    freq: str,
    lead_time: int,
    holding: float = 1.0,
    shortage: float = 19.0,
    order_cost: float = 0.0,
    reorder_point: pd.DataFrame | None = None,
) -> SimulationResult:
    """Simulate the reviews after each cutoff of ``levels`` against the actual demand in ``df``
    (items in both; a review's demand is the period after its cutoff)."""
    off = pd.tseries.frequencies.to_offset(freq)
    lv = levels.assign(ds=pd.to_datetime(levels["cutoff"]) + off)
    S = lv.pivot(index="unique_id", columns="ds", values="level").sort_index(axis=1)
    D = df.pivot(index="unique_id", columns="ds", values="y").reindex(
        index=S.index, columns=S.columns
    )
    if D.isna().any().any():
        keep = ~D.isna().any(axis=1)
        D, S = D[keep], S[keep]
    if S.isna().any().any():
        raise ValidationError("some items lack a level at some review")
    sp = None
    if reorder_point is not None:
        rp = reorder_point.assign(ds=pd.to_datetime(reorder_point["cutoff"]) + off)
        sp = (
            rp.pivot(index="unique_id", columns="ds", values="level")
            .reindex(index=S.index, columns=S.columns)
            .to_numpy()
        )
    return simulate(
        D.to_numpy(float),
        S.to_numpy(float),
        reorder_point=sp,
        lead_time=lead_time,
        holding=holding,
        shortage=shortage,
        order_cost=order_cost,
    )
