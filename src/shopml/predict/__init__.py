"""Prediction about customers, sessions, impressions and orders; so far customer lifetime value.

- :mod:`shopml.predict.rfm`: recency / frequency / monetary summaries with an explicit cutoff;
- :mod:`shopml.predict.btyd`: BG/NBD purchases and Gamma-Gamma spend (CLV).
"""

from shopml.predict.btyd import BGNBD, GammaGamma
from shopml.predict.rfm import rfm_features, rfm_summary

__all__ = ["BGNBD", "GammaGamma", "rfm_features", "rfm_summary"]
