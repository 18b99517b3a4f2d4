"""Pricing: elasticities from price and sales history, price optimisation, dynamic pricing.

- :class:`~shopml.pricing.base.ElasticityModel` is the contract: :class:`NaiveLogLog`,
  :class:`ControlsLogLog` and :class:`DMLElasticity` (double machine learning) follow it;
- :func:`~shopml.pricing.optimise.optimise_prices` picks one price per product from a ladder
  as a mixed-integer program (scipy's HiGHS);
- :mod:`shopml.pricing.dynamic` learns prices online (Thompson sampling with inventory).
"""

from shopml.pricing.base import ElasticityModel
from shopml.pricing.controls import ControlsLogLog
from shopml.pricing.dml import DMLElasticity
from shopml.pricing.naive import NaiveLogLog

MODELS = {"naive": NaiveLogLog, "controls": ControlsLogLog, "dml": DMLElasticity}

__all__ = ["MODELS", "ControlsLogLog", "DMLElasticity", "ElasticityModel", "NaiveLogLog"]
