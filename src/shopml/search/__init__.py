"""Product search: analyser, spelling correction, BM25F, dense retrieval, fusion, re-ranking."""

from shopml.search.analyzer import Analyzer, Tokens
from shopml.search.bm25 import BM25
from shopml.search.dense import DenseIndex, SentenceEncoder
from shopml.search.engine import SearchEngine
from shopml.search.hybrid import LinearFusion, reciprocal_rank_fusion
from shopml.search.ltr import LambdaMARTReranker, RelevanceRegressor
from shopml.search.spelling import SpellingCorrector

__all__ = [
    "BM25",
    "Analyzer",
    "DenseIndex",
    "LambdaMARTReranker",
    "LinearFusion",
    "RelevanceRegressor",
    "SearchEngine",
    "SentenceEncoder",
    "SpellingCorrector",
    "Tokens",
    "reciprocal_rank_fusion",
]
