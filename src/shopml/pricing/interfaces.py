"""What pricing needs from a demand forecaster, and nothing more (a declared interface).

Pricing works without a forecaster: the elasticity model's demand level comes from recent
sales. Where a shop has one (``shopml.forecast.Forecaster`` or anything shaped like
statsforecast's ``StatsForecast``), its point forecast over the horizon can replace that level.
Pricing never imports ``shopml.forecast``: it calls ``forecast(h)`` and reads the frame.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import pandas as pd

from shopml.core.errors import ValidationError


@runtime_checkable
class DemandForecaster(Protocol):
    """A fitted forecaster: ``forecast(h)`` returns ``unique_id, ds`` and one or more point
    columns (statsforecast's convention: one column per model alias; interval columns contain
    ``-lo-`` or ``-hi-``)."""

    def forecast(self, h: int, level: Any = None) -> pd.DataFrame: ...


def baseline_from_forecast(forecaster: DemandForecaster, h: int) -> pd.Series:
    """Units over the next ``h`` periods per ``unique_id`` from the forecaster's point forecast
    (the first point column; negative forecasts count as zero)."""
    frame = forecaster.forecast(h)
    if not isinstance(frame, pd.DataFrame):
        raise ValidationError("forecaster.forecast(h) must return a pandas DataFrame")
    frame = frame.reset_index() if "unique_id" not in frame.columns else frame
    points = [
        c for c in frame.columns
        if c not in ("unique_id", "ds", "index") and "-lo-" not in c and "-hi-" not in c
        and pd.api.types.is_numeric_dtype(frame[c])
    ]
    if "unique_id" not in frame.columns or not points:
        raise ValidationError(
            f"forecast frame has columns {list(frame.columns)}: expected unique_id, ds and a "
            "point forecast column"
        )
    return frame.groupby(frame["unique_id"].astype(str))[points[0]].sum().clip(lower=0)
