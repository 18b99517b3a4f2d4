"""Honest evaluation: full-ranking metrics, bootstrap intervals, paired tests."""

from shopml.evaluation.ranking import RankingReport, hits_matrix, ranking_metrics
from shopml.evaluation.stats import ConfidenceInterval, PairedTest, bootstrap_ci, paired_test

__all__ = [
    "ConfidenceInterval",
    "PairedTest",
    "RankingReport",
    "bootstrap_ci",
    "hits_matrix",
    "paired_test",
    "ranking_metrics",
]
