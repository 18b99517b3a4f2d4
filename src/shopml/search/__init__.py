"""Product search: analyser, spelling correction, BM25F, dense retrieval, fusion, re-ranking,
click models and exposure allocation."""

from shopml.search.analyzer import Analyzer, Tokens
from shopml.search.bm25 import BM25
from shopml.search.click_models import (
    CascadeModel,
    ClickModel,
    DynamicBayesianNetwork,
    PositionBasedModel,
)
from shopml.search.dense import DenseIndex, SentenceEncoder
from shopml.search.engine import SearchEngine
from shopml.search.exposure import allocate_impressions, exposure_shares
from shopml.search.hybrid import LinearFusion, reciprocal_rank_fusion
from shopml.search.ltr import LambdaMARTReranker, RelevanceRegressor, click_labels
from shopml.search.spelling import SpellingCorrector

__all__ = [
    "BM25",
    "Analyzer",
    "CascadeModel",
    "ClickModel",
    "DenseIndex",
    "DynamicBayesianNetwork",
    "LambdaMARTReranker",
    "LinearFusion",
    "PositionBasedModel",
    "RelevanceRegressor",
    "SearchEngine",
    "SentenceEncoder",
    "SpellingCorrector",
    "Tokens",
    "allocate_impressions",
    "click_labels",
    "exposure_shares",
    "reciprocal_rank_fusion",
]
