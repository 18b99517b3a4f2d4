from __future__ import annotations

import numpy as np
import pytest

from shopml.pricing import ControlsLogLog, DMLElasticity, NaiveLogLog
from shopml.pricing.pooling import pool
from tests.pricing.contract import ElasticityContract
from tests.pricing.toy import toy_panel


class TestNaiveUnconfounded(ElasticityContract):
    """Without confounding the naive regression is fine; with it, see below."""

    def _get_model(self):
        return NaiveLogLog(pooling="item")

    @pytest.fixture(scope="class")
    @classmethod
    def fitted(cls):
        panel, truth = toy_panel(confounding=0.0)
        return NaiveLogLog(pooling="item").fit(panel), panel, truth


class TestControls(ElasticityContract):
    def _get_model(self):
        return ControlsLogLog()


class TestDML(ElasticityContract):
    max_mae = 0.3

    def _get_model(self):
        return DMLElasticity(n_estimators=300, n_folds=3)


def test_naive_is_biased_by_confounding_and_dml_and_controls_are_not():
    panel, truth = toy_panel(confounding=1.5, seed=1)
    bias = {}
    for name, model in (
        ("naive", NaiveLogLog(pooling="item")),
        ("controls", ControlsLogLog(pooling="item")),
        ("dml", DMLElasticity(pooling="item", n_folds=3)),
    ):
        e = model.fit(panel).elasticities().set_index("unique_id")["elasticity"]
        bias[name] = float((e - truth[e.index]).mean())
    # prices rise with demand: the naive slope is pulled up (towards zero and beyond)
    assert bias["naive"] > 0.5, bias
    assert abs(bias["controls"]) < 0.15, bias
    assert abs(bias["dml"]) < 0.2, bias


def test_partial_pooling_leans_on_the_category_when_the_product_is_uninformative():
    est = np.array([-1.0, -1.2, -0.8, -5.0])
    se = np.array([0.1, 0.1, 0.1, 3.0])
    cat = np.array(["a", "a", "a", "a"])
    post, post_se = pool(est, se, cat, "partial")
    assert abs(post[3] - (-1.0)) < 0.2  # the noisy one is pulled to the category mean
    assert np.allclose(post[:3], est[:3], atol=0.1)  # precise ones keep (almost) their own
    assert post_se[3] < se[3]
    cat_est, _ = pool(est, se, cat, "category")
    assert np.allclose(cat_est, cat_est[0])
    item_est, item_se = pool(est, se, cat, "item")
    assert np.array_equal(item_est, est) and np.array_equal(item_se, se)


def test_unidentified_product_gets_its_category_estimate():
    panel, _ = toy_panel(n_items=6, days=120, seed=2)
    fixed = panel["unique_id"] == "p000"
    panel.loc[fixed, "price"] = 9.99  # the price never moved: no own estimate
    e = NaiveLogLog().fit(panel).elasticities().set_index("unique_id")
    assert np.isinf(e.loc["p000", "raw_se"])
    assert np.isfinite(e.loc["p000", "elasticity"]) and np.isfinite(e.loc["p000", "se"])
