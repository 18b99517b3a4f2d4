"""Demand forecasting: statsforecast baselines, a global LightGBM and a DeepAR-style network
behind one contract (long frame ``unique_id, ds, y``; quantile forecasts), a statsforecast-style
:class:`Forecaster`, bottom-up hierarchies and the files serving reads.

Model classes import lazily (statsforecast, torch and LightGBM load only when used).
"""

from shopml.forecast.base import QUANTILES, ForecastModel, check_frame, qcol
from shopml.forecast.forecaster import Ensemble, Forecaster, model_frame

__all__ = [
    "QUANTILES",
    "Ensemble",
    "ForecastModel",
    "Forecaster",
    "check_frame",
    "model_frame",
    "qcol",
]
