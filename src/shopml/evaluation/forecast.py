"""Forecast accuracy: MASE, WAPE, RMSSE, pinball loss and interval coverage.

Conventions (M4/M5): MASE and RMSSE scale each series' errors by its *in-sample one-step naive*
error (mean absolute / mean squared first difference of the training history), then average
over series; WAPE pools absolute errors over every series and step and divides by the pooled
actual units; the pinball (quantile) loss is scaled the same way as WAPE (divided by the pooled
actuals) so that its values read like WAPE. Series whose history has no variation (a scale of
zero) are left out of MASE and RMSSE, and the count is reported by :func:`forecast_metrics`.

Frames are long, in statsforecast's convention: ``unique_id, ds`` plus ``y`` (actuals), the point
forecast column and quantile columns named ``q0.1``, ``q0.5``, ...; intervals ``lo-80``/``hi-80``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError

__all__ = [
    "coverage",
    "forecast_metrics",
    "mase",
    "naive_scales",
    "pinball",
    "rmsse",
    "wape",
]


def naive_scales(history: pd.DataFrame) -> pd.DataFrame:
    """Per series: mean absolute and mean squared one-step naive error of the history.

    ``history`` is long (``unique_id, ds, y``); returns a frame indexed by ``unique_id`` with
    columns ``mae_naive`` and ``mse_naive`` (NaN where the history has fewer than two points).
    """
    _need(history, ("unique_id", "ds", "y"), "history")
    h = history.sort_values(["unique_id", "ds"], kind="stable")
    diff = h.groupby("unique_id", sort=False)["y"].diff()
    frame = pd.DataFrame({"unique_id": h["unique_id"].to_numpy(), "a": diff.abs(), "s": diff**2})
    g = frame.groupby("unique_id", sort=True)
    return pd.DataFrame({"mae_naive": g["a"].mean(), "mse_naive": g["s"].mean()})


def _per_series(err: pd.Series, ids: pd.Series) -> pd.Series:
    return err.groupby(ids.to_numpy()).mean()


def mase(df: pd.DataFrame, history: pd.DataFrame, col: str = "point") -> float:
    """Mean absolute scaled error, averaged over series with a non-zero naive scale."""
    sc = naive_scales(history)["mae_naive"]
    per = (
        _per_series((df["y"] - df[col]).abs(), df["unique_id"])
        / sc.reindex(df["unique_id"].unique()).to_numpy()
    )
    per = per[np.isfinite(per)]
    return float(per.mean()) if len(per) else float("nan")


def rmsse(df: pd.DataFrame, history: pd.DataFrame, col: str = "point") -> float:
    """Root mean squared scaled error (M5), averaged over series with a non-zero naive scale."""
    sc = naive_scales(history)["mse_naive"]
    per = (
        _per_series((df["y"] - df[col]) ** 2, df["unique_id"])
        / sc.reindex(df["unique_id"].unique()).to_numpy()
    )
    per = np.sqrt(per[np.isfinite(per)])
    return float(per.mean()) if len(per) else float("nan")


def wape(y: np.ndarray, yhat: np.ndarray) -> float:
    """Weighted absolute percentage error: sum |y - yhat| / sum |y| (pooled)."""
    y, yhat = np.asarray(y, float), np.asarray(yhat, float)
    den = np.abs(y).sum()
    return float(np.abs(y - yhat).sum() / den) if den > 0 else float("nan")


def pinball(y: np.ndarray, q: np.ndarray, tau: float) -> float:
    """Pooled pinball loss of quantile ``tau`` divided by the pooled actuals (scaled like WAPE)."""
    if not 0 < tau < 1:
        raise ValidationError(f"tau must lie in (0, 1), got {tau}")
    y, q = np.asarray(y, float), np.asarray(q, float)
    d = y - q
    loss = np.maximum(tau * d, (tau - 1) * d).sum()
    den = np.abs(y).sum()
    return float(2 * loss / den) if den > 0 else float("nan")


def coverage(y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> float:
    """Share of actuals inside ``[lo, hi]``."""
    y = np.asarray(y, float)
    return float(((y >= np.asarray(lo, float)) & (y <= np.asarray(hi, float))).mean())


def forecast_metrics(
    df: pd.DataFrame,
    history: pd.DataFrame,
    col: str = "point",
    quantiles: Iterable[float] = (0.1, 0.5, 0.9),
    levels: Sequence[int] = (80, 95),
) -> dict[str, float]:
    """Every metric of one model's forecasts ``df`` (with ``y``) against the training
    ``history``: ``mase, wape, rmsse, pinball@0.1.., coverage@80..`` (quantile and interval
    metrics only where the columns exist)."""
    _need(df, ("unique_id", "ds", "y", col), "forecasts")
    if df["y"].isna().any() or df[col].isna().any():
        raise ValidationError(f"forecasts: y or {col!r} has missing values")
    out = {
        "mase": mase(df, history, col),
        "wape": wape(df["y"], df[col]),
        "rmsse": rmsse(df, history, col),
    }
    for tau in quantiles:
        name = qcol(tau)
        if name in df:
            out[f"pinball@{tau:g}"] = pinball(df["y"], df[name], tau)
    for lv in levels:
        if f"lo-{lv}" in df and f"hi-{lv}" in df:
            out[f"coverage@{lv}"] = coverage(df["y"], df[f"lo-{lv}"], df[f"hi-{lv}"])
    return out


def qcol(tau: float) -> str:
    """The column holding quantile ``tau`` (``q0.1``)."""
    return f"q{tau:g}"


def _need(df: pd.DataFrame, cols: Iterable[str], what: str) -> None:
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValidationError(f"{what} lacks column(s) {missing}; it has {list(df.columns)}")
