from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.data.synth import SimConfig, simulate
from shopml.data.synth.catalogue import make_catalogue
from shopml.data.synth.pricing import demand_index, expected_units

CFG = SimConfig(n_users=800, n_items=40, n_categories=4, days=200, seed=5, impression_share=0.0)


@pytest.fixture(scope="module")
def shops():
    return simulate(CFG), simulate(CFG, price_confounding=1.5)


def test_off_by_default_and_only_prices_change(shops):
    plain, confounded = shops
    assert SimConfig().price_confounding == 0.0
    pd.testing.assert_frame_equal(plain.items, confounded.items)
    pd.testing.assert_frame_equal(plain.users, confounded.users)
    assert np.array_equal(plain.truth.elasticity, confounded.truth.elasticity)
    assert np.array_equal(plain.truth.cost, confounded.truth.cost)
    assert not plain.prices["price"].equals(confounded.prices["price"])


def test_confounded_prices_follow_the_anticipated_demand(shops):
    plain, confounded = shops
    # the same random draws: the confounded path is the plain one times exp(clip(gamma z))
    cat = make_catalogue(CFG, np.random.default_rng(np.random.SeedSequence(CFG.seed).spawn(1)[0]))
    assert np.array_equal(cat.ids, plain.items["item_id"].to_numpy())
    z = demand_index(CFG, cat)[cat.category]  # (items, days)
    assert z.shape == (CFG.n_items, CFG.days)
    assert np.allclose(z.mean(axis=1), 0)

    def regular(shop):
        reg = shop.prices["attributes"].str.extract(r'"regular_price":\s*([0-9.]+)')[0]
        return reg.astype(float).to_numpy().reshape(CFG.n_items, CFG.days)

    moved = np.log(regular(confounded) / regular(plain))
    want = np.clip(1.5 * z, -np.log(1.25), np.log(1.25))
    assert np.corrcoef(moved.ravel(), want.ravel())[0, 1] > 0.95
    assert np.abs(moved - want).mean() < 0.05  # the rest is rounding to .99 prices


def test_prices_stay_in_the_documented_range(shops):
    _, confounded = shops
    base = confounded.prices["item_id"].map(confounded.items.set_index("item_id")["price"])
    ratio = confounded.prices["price"] / base
    assert ratio.min() > 0.85 * 0.65 / 1.25 - 0.02 and ratio.max() < 1.2 * 1.25 + 0.02


def test_expected_units_is_the_constant_elasticity_curve():
    q = expected_units(np.array([2.0]), np.array([10.0]), np.array([-2.0]), np.array([20.0]))
    assert q[0] == pytest.approx(0.5)


def test_negative_confounding_is_rejected():
    with pytest.raises(ValidationError, match="price_confounding"):
        SimConfig(price_confounding=-1).validate()
