"""Classification metrics against hand-computed values and scikit-learn."""

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation.classification import (
    auprc,
    bootstrap_metric,
    brier,
    classification_metrics,
    log_loss,
    paired_bootstrap,
    recall_at_fpr,
    roc_auc,
    threshold_at_fpr,
)


def test_hand_computed_values():
    y = np.array([0, 0, 1, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8])
    assert roc_auc(y, p) == pytest.approx(0.75)
    # ranks: 0.8(+) 0.4(-) 0.35(+) 0.1(-): precision at the positives 1 and 2/3
    assert auprc(y, p) == pytest.approx((1 + 2 / 3) / 2)
    assert brier(y, p) == pytest.approx(np.mean([0.01, 0.16, 0.4225, 0.04]))
    assert log_loss(y, p) == pytest.approx(-np.mean(np.log([0.9, 0.6, 0.35, 0.8])))
    # FPR 0 allows flagging only 0.8: recall 1/2; FPR 0.5 allows down to 0.35: recall 1
    assert recall_at_fpr(y, p, 0.0) == 0.5
    assert recall_at_fpr(y, p, 0.5) == 1.0
    assert threshold_at_fpr(y, p, 0.0) == pytest.approx(0.8)


def test_metrics_dict_and_errors():
    rng = np.random.default_rng(0)
    y = (rng.random(500) < 0.1).astype(int)
    p = np.clip(0.1 + 0.3 * y + rng.normal(scale=0.1, size=500), 0, 1)
    m = classification_metrics(y, p)
    assert set(m) >= {"auc", "auprc", "recall@1%fpr", "recall@5%fpr", "log_loss", "brier"}
    assert m["positive_rate"] == pytest.approx(y.mean())
    with pytest.raises(ValidationError, match="both classes"):
        roc_auc(np.zeros(5), np.ones(5) / 2)
    with pytest.raises(ValidationError, match="0/1"):
        roc_auc(np.array([0, 2]), np.array([0.1, 0.2]))
    with pytest.raises(ValidationError, match="probabilities"):
        brier(np.array([0, 1]), np.array([0.1, 1.2]))


def test_bootstrap_intervals_cover_and_paired_difference():
    rng = np.random.default_rng(1)
    y = (rng.random(2000) < 0.05).astype(int)
    good = y * 1.0 + rng.normal(scale=0.7, size=2000)
    bad = y * 0.2 + rng.normal(scale=0.7, size=2000)
    ci = bootstrap_metric(y, good, "auc", n=200)
    assert ci.low < ci.mean < ci.high and ci.mean == pytest.approx(roc_auc(y, good))
    d = paired_bootstrap(y, good, bad, "auc", n=200)
    assert d["diff"] > 0 and d["low"] > 0 and d["p_value"] < 0.05
    same = paired_bootstrap(y, good, good, "auc", n=50)
    assert same["diff"] == 0 and same["p_value"] == 1.0


def test_weighted_metrics_equal_sklearn_on_repeated_rows():
    from shopml.evaluation.classification import weighted_auc_auprc

    rng = np.random.default_rng(2)
    y = (rng.random(300) < 0.2).astype(float)
    p = np.round(rng.random(300) * 0.5 + 0.4 * y, 2)  # rounding makes ties
    W = rng.integers(0, 3, size=(4, 300)).astype(float)
    auc, ap = weighted_auc_auprc(y, p, W)
    for k in range(4):
        idx = np.repeat(np.arange(300), W[k].astype(int))
        assert auc[k] == pytest.approx(roc_auc(y[idx], p[idx]), abs=1e-12)
        assert ap[k] == pytest.approx(auprc(y[idx], p[idx]), abs=1e-12)
