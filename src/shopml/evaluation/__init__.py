"""Honest evaluation: every split and protocol, full-ranking metrics, bootstrap intervals,
paired tests.

Splits live in :mod:`shopml.evaluation.splits`, the top-k recommendation protocol in
:mod:`shopml.evaluation.protocols`. This layer sits below the registry and the capability
packages (import-linter checks it): it never imports them.
"""

from shopml.evaluation.protocols import RecommendSplit, evaluate, make_split, train_popularity
from shopml.evaluation.ranking import RankingReport, hits_matrix, ranking_metrics
from shopml.evaluation.splits import (
    LabelledSplit,
    Split,
    filter_test_to_known,
    fraction_split,
    last_item_of_session,
    leave_last_k_out,
    session_split,
    stratified_user_split,
    tail_split,
    temporal_split,
)
from shopml.evaluation.stats import ConfidenceInterval, PairedTest, bootstrap_ci, paired_test

__all__ = [
    "ConfidenceInterval",
    "LabelledSplit",
    "PairedTest",
    "RankingReport",
    "RecommendSplit",
    "Split",
    "bootstrap_ci",
    "evaluate",
    "filter_test_to_known",
    "fraction_split",
    "hits_matrix",
    "last_item_of_session",
    "leave_last_k_out",
    "make_split",
    "paired_test",
    "ranking_metrics",
    "session_split",
    "stratified_user_split",
    "tail_split",
    "temporal_split",
    "train_popularity",
]
