"""Newsvendor, base-stock and (s, S) policies, and the replay simulator."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm, poisson

from shopml.core.errors import ValidationError
from shopml.forecast.base import QUANTILES, qcol
from shopml.inventory import (
    ReplenishmentPolicy,
    base_stock_levels,
    expected_shortage,
    fill_rate_level,
    newsvendor_normal,
    quantile_at,
    replenishment,
    simulate,
)


def test_newsvendor_test_vector():
    level, cost = newsvendor_normal(120, 10, holding=2, shortage=18)
    assert level == pytest.approx(132.8155, abs=1e-4)
    assert cost == pytest.approx(35.0997, abs=1e-4)


def test_newsvendor_cost_is_minimal_by_monte_carlo():
    rng = np.random.default_rng(0)
    d = rng.normal(120, 10, 400_000)
    level, cost = newsvendor_normal(120, 10, holding=2, shortage=18)

    def mc(S):
        return (2 * np.clip(S - d, 0, None) + 18 * np.clip(d - S, 0, None)).mean()

    assert mc(level) == pytest.approx(cost, rel=0.01)
    assert mc(level) < mc(level - 3) and mc(level) < mc(level + 3)


def _normal_frame(means, sds, periods=1):
    rows = []
    for i, (m, s) in enumerate(zip(means, sds, strict=True)):
        for k in range(periods):
            r = {
                "unique_id": f"i{i}",
                "ds": pd.Timestamp("2024-01-01") + pd.Timedelta(weeks=k),
                "point": m,
            }
            r.update({qcol(t): norm.ppf(t, m, s) for t in QUANTILES})
            rows.append(r)
    return pd.DataFrame(rows)


def test_quantile_and_shortage_from_a_normal_quantile_grid():
    fc = _normal_frame([100.0, 50.0], [10.0, 5.0])
    Q = fc[[qcol(t) for t in QUANTILES]].to_numpy()
    taus = np.array(QUANTILES)
    assert quantile_at(Q, taus, 0.9) == pytest.approx([112.8155, 56.4078], abs=0.05)
    # E[(D - S)+] = sigma * (phi(z) - z (1 - Phi(z)))
    S = np.array([110.0, 50.0])
    z = (S - [100, 50]) / [10, 5]
    exact = np.array([10, 5]) * (norm.pdf(z) - z * norm.sf(z))
    assert expected_shortage(Q, taus, S) == pytest.approx(exact, rel=0.05)
    # the fill-rate level inverts the loss function
    lv = fill_rate_level(Q, taus, exact)
    assert lv == pytest.approx(S, abs=0.3)


def test_base_stock_levels_over_the_lead_time():
    fc = _normal_frame([100.0], [10.0], periods=3)
    cycle = base_stock_levels(fc, lead_time=1, target=0.95, service="cycle")
    # two independent periods: mean 200, sd 10 * sqrt(2)
    assert cycle["level"].iloc[0] == pytest.approx(200 + 1.6449 * 10 * np.sqrt(2), abs=0.3)
    fill = base_stock_levels(fc, lead_time=1, target=0.95, service="fill_rate")
    assert fill["level"].iloc[0] < cycle["level"].iloc[0]
    with pytest.raises(ValidationError):
        base_stock_levels(fc, lead_time=5)  # fewer forecast periods than the protection period
    with pytest.raises(ValidationError):
        base_stock_levels(fc.drop(columns=["point"]))


def test_replenishment_orders_up_to_the_level():
    fc = _normal_frame([100.0, 20.0], [10.0, 4.0], periods=2)
    on_hand = pd.DataFrame({"unique_id": ["i0"], "on_hand": [90.0]})
    out = replenishment(fc, ReplenishmentPolicy(lead_time=1, service="cycle"), on_hand).set_index(
        "unique_id"
    )
    assert out.loc["i0", "order_qty"] == pytest.approx(out.loc["i0", "order_up_to"] - 90, abs=1e-3)
    assert out.loc["i1", "on_hand"] == 0 and out.loc["i1", "order_qty"] > 40
    sS = replenishment(fc, ReplenishmentPolicy(policy="sS", lead_time=1, order_cost=50), on_hand)
    assert (sS["order_up_to"] > sS["reorder_point"]).all()
    with pytest.raises(ValidationError):
        ReplenishmentPolicy(target=1.5)


def test_simulator_accounts_for_every_unit():
    rng = np.random.default_rng(1)
    D = rng.poisson(20, size=(50, 30)).astype(float)
    lv = np.full_like(D, poisson.ppf(0.95, 40))  # lead time 1: two periods of demand
    r = simulate(D, lv, lead_time=1, holding=1, shortage=19)
    sold = D - r.lost
    assert r.fill_rate == pytest.approx(sold.sum() / D.sum())
    assert 0.9 < r.fill_rate <= 1.0
    # stock balance: start + received - sold = end
    received = r.ordered[:, :-1].sum()  # the last period's orders arrive after the horizon
    start = lv[:, 0].sum()
    assert start + received - sold.sum() == pytest.approx(r.on_hand[:, -1].sum())
    more = simulate(D, lv + 10, lead_time=1)
    assert more.fill_rate >= r.fill_rate and more.avg_on_hand > r.avg_on_hand
    with pytest.raises(ValidationError):
        simulate(D, lv[:, :5])


def test_sS_orders_less_often_than_base_stock():
    rng = np.random.default_rng(2)
    D = rng.poisson(10, size=(20, 40)).astype(float)
    S = np.full_like(D, 40.0)
    base = simulate(D, S, lead_time=0, order_cost=10)
    ss = simulate(D, S + 30, reorder_point=S, lead_time=0, order_cost=10)
    assert ss.orders < base.orders
