"""The ``predict`` suite's fraud and churn tasks: protocol, rows and honest splits."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.benchmarks.predict_churn import cutoffs
from shopml.benchmarks.predict_fraud import time_split
from shopml.benchmarks.runner import get_suite
from shopml.core.errors import ValidationError
from shopml.data.loaders import get_loader
from tests.predict.shop import build_shop

FLOORS = ["logistic regression", "LightGBM defaults"]


@pytest.mark.skipif(not get_loader("fraud").found(), reason="fraud data not in the data directory")
def test_fraud_on_real_data_time_ordered(tmp_path):
    res = get_suite("predict")(dataset="fraud", task="fraud", quick=True, models=FLOORS)
    rows = {r.model: r for r in res.rows}
    assert list(rows) == FLOORS
    lgb = rows["LightGBM defaults"].metrics
    assert lgb["recall@1%fpr"] <= lgb["recall@5%fpr"]
    # better than chance at ranking (the test part is ~4.4% fraud)
    assert lgb["auprc"] > 0.044 and lgb["auc"] > 0.5
    ci = rows["LightGBM defaults"].extra["ci"]["auprc"]
    assert ci["low"] <= lgb["auprc"] <= ci["high"]
    assert "flag nothing" in res.notes[0] and "random 60/20/20" in res.notes[-1]
    out = res.write(tmp_path / "fraud.json")
    assert "| LightGBM defaults |" in out.with_suffix(".md").read_text()


def test_time_split_keeps_order():
    X = pd.DataFrame({"a": np.arange(10.0)})
    s = time_split(X, np.arange(10) % 2)
    assert s.X_train["a"].max() < s.X_val["a"].min() and s.X_val["a"].max() < s.X_test["a"].min()
    assert (len(s.y_train), len(s.y_val), len(s.y_test)) == (6, 2, 2)


def test_churn_cutoffs_never_train_on_test_labels():
    orders = pd.DataFrame({"ts": pd.to_datetime(["2024-01-01", "2024-12-31"])})
    plan = cutoffs(orders, horizon=90, step=30, n_test=3, n_train=3)
    for test, val, train in plan:
        assert val + pd.Timedelta(days=90) <= test  # validation labels end by the test cutoff
        assert all(c + pd.Timedelta(days=90) <= test - pd.Timedelta(days=30) for c in train)
    assert plan[-1][0] == pd.Timestamp("2024-12-31") - pd.Timedelta(days=90)
    with pytest.raises(Exception, match="too short"):
        cutoffs(orders, horizon=300, step=30, n_test=3, n_train=3)


def test_churn_suite_on_a_workspace(tmp_path):
    shop = build_shop(tmp_path / "shop.duckdb")
    res = get_suite("predict")(
        workspace=shop, task="churn", quick=True, horizon=30, step=14, models=FLOORS
    )
    names = [r.model for r in res.rows]
    assert names == [*FLOORS, "BG/NBD P(buy in horizon)"]
    for r in res.rows:
        assert 0 <= r.metrics["brier"] <= 1 and 0 <= r.metrics["auc"] <= 1
        assert len(r.extra["per_cutoff"]) == 1
    with pytest.raises(ValidationError, match="unknown model"):
        get_suite("predict")(
            workspace=shop, task="churn", quick=True, horizon=30, step=14, models=["xgb"]
        )
