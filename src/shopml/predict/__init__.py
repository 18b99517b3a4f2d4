"""Prediction about customers, sessions, impressions and orders.

- :mod:`shopml.predict.base`: the :class:`Predictor` contract (fit / predict_proba / predict /
  explain / save / load) every model follows; :mod:`shopml.predict.encoding` the shared
  feature encoding (numeric standardisation, categorical vocabularies with an unseen bucket);
- models: :mod:`~shopml.predict.linear` (logistic regression), :mod:`~shopml.predict.gbm`
  (LightGBM), :mod:`~shopml.predict.mlp` (torch MLP); torch models share
  :mod:`~shopml.predict.torch_train`;
- :mod:`shopml.predict.calibration` (Platt, isotonic), :mod:`shopml.predict.decision`
  (Bayes minimum-risk thresholds from a cost matrix);
- :mod:`shopml.predict.features`: feature builders with an explicit cutoff;
- :mod:`shopml.predict.rfm`: recency / frequency / monetary summaries with an explicit cutoff;
- :mod:`shopml.predict.btyd`: BG/NBD purchases and Gamma-Gamma spend (CLV).

Models import lazily (``from shopml.predict.gbm import LightGBMClassifier``) so that importing
this package does not load torch or LightGBM.
"""

from shopml.predict.base import Predictor, load_predictor
from shopml.predict.btyd import BGNBD, GammaGamma
from shopml.predict.encoding import FeatureEncoder
from shopml.predict.rfm import rfm_features, rfm_summary

__all__ = ["BGNBD", "FeatureEncoder", "GammaGamma", "Predictor", "load_predictor", "rfm_features", "rfm_summary"]
