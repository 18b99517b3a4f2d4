"""Features of the global models, computed on a :class:`~shopml.forecast.base.Panel` for many
(series, origin, step) rows at once (no loop over rows).

At origin ``o`` (the last period the model may see) for a target ``o + step``: lags of ``y``,
rolling means and a rolling standard deviation, the share of zero periods, periods since the
last sale, the series' age, all divided by the series' scale at the origin
(``1 + mean of the last 13 periods``, DeepAR's scale) so that one model serves series of any
size; the log scale itself; the step; the target period's month (and week of year for weekly
data); exogenous values at the target period and their ratio to the origin's.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopml.forecast.base import Panel

SCALE_WINDOW = 13


def _window_sum(C: np.ndarray, s: np.ndarray, o: np.ndarray, w: int) -> np.ndarray:
    """Sum over ``(o - w, o]`` from a cumulative array ``C`` with a leading zero column."""
    hi = o + 1
    lo = np.clip(hi - w, 0, None)
    return C[s, hi] - C[s, lo]


class PanelStats:
    """Cumulative sums of a panel, computed once, from which every window feature is read."""

    def __init__(self, panel: Panel) -> None:
        Y = panel.Y
        obs = ~np.isnan(Y)
        y0 = np.where(obs, Y, 0.0)
        pad = np.zeros((Y.shape[0], 1))
        self.C = np.hstack([pad, np.cumsum(y0, axis=1)])
        self.C2 = np.hstack([pad, np.cumsum(y0**2, axis=1)])
        self.N = np.hstack([pad, np.cumsum(obs, axis=1)])
        self.Z = np.hstack([pad, np.cumsum(obs & (y0 == 0), axis=1)])
        t = np.arange(Y.shape[1])
        self.last_sale = np.maximum.accumulate(np.where(y0 > 0, t, -1), axis=1)
        self.panel = panel

    def scale(self, s: np.ndarray, o: np.ndarray) -> np.ndarray:
        n = np.maximum(_window_sum(self.N, s, o, SCALE_WINDOW), 1)
        return 1.0 + _window_sum(self.C, s, o, SCALE_WINDOW) / n

    def design(
        self,
        s: np.ndarray,
        o: np.ndarray,
        step: np.ndarray,
        lags: tuple[int, ...],
        windows: tuple[int, ...],
        exog: tuple[str, ...],
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """The feature frame of rows ``(s, o, step)`` and each row's scale."""
        p = self.panel
        Y = p.Y
        scale = self.scale(s, o)
        cols: dict[str, np.ndarray] = {}
        for lag in lags:
            idx = o - lag + 1
            v = np.where(idx >= 0, Y[s, np.clip(idx, 0, None)], np.nan)
            cols[f"lag{lag}"] = v / scale
        for w in windows:
            n = _window_sum(self.N, s, o, w)
            m = _window_sum(self.C, s, o, w) / np.maximum(n, 1)
            cols[f"mean{w}"] = np.where(n > 0, m / scale, np.nan)
        w = max(windows)
        n = _window_sum(self.N, s, o, w)
        m = _window_sum(self.C, s, o, w) / np.maximum(n, 1)
        var = _window_sum(self.C2, s, o, w) / np.maximum(n, 1) - m**2
        cols[f"std{w}"] = np.sqrt(np.clip(var, 0, None)) / scale
        cols["zero_share"] = _window_sum(self.Z, s, o, w) / np.maximum(n, 1)
        ls = self.last_sale[s, o]
        cols["since_sale"] = np.where(ls >= 0, o - ls, o - p.first[s] + 1).astype(float)
        cols["age"] = (o - p.first[s]).astype(float)
        cols["log_scale"] = np.log(scale)
        cols["step"] = step.astype(float)
        target = o + step
        ds = p.grid[np.clip(target, 0, len(p.grid) - 1)]
        cols["month"] = ds.month.to_numpy(float)
        if p.freq.startswith("W"):
            cols["week"] = ds.isocalendar().week.to_numpy(float)
        for c in exog:
            x = p.X[c]
            at_t = x[s, np.clip(target, 0, x.shape[1] - 1)]
            at_o = x[s, o]
            cols[f"x_{c}"] = at_t
            with np.errstate(divide="ignore", invalid="ignore"):
                cols[f"x_{c}_change"] = np.where(at_o != 0, at_t / at_o, np.nan)
        return pd.DataFrame(cols), scale


def training_rows(panel: Panel, horizon: int, min_history: int) -> tuple[np.ndarray, ...]:
    """Every (series, origin, step) whose origin has ``min_history`` periods before it and whose
    target is observed."""
    S, T = panel.Y.shape
    s = np.arange(S)[:, None, None]
    o = np.arange(T)[None, :, None]
    k = np.arange(1, horizon + 1)[None, None, :]
    ok = (o >= panel.first[:, None, None] + min_history - 1) & (o + k <= panel.last[:, None, None])
    ss, oo, kk = np.nonzero(ok)
    return s.ravel()[ss], oo, kk + 1
