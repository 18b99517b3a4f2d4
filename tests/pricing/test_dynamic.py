from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import linprog

from shopml.core.errors import ValidationError
from shopml.pricing.dynamic import fluid_lp, simulate_policy


def test_fluid_lp_matches_linprog():
    rng = np.random.default_rng(0)
    n, k = 60, 5
    r = rng.uniform(-1, 5, (n, k))
    d = rng.uniform(0, 3, (n, k))
    c = rng.uniform(0, 3, n)
    x = fluid_lp(r, d, c)
    assert (x >= -1e-12).all() and (x.sum(axis=1) <= 1 + 1e-9).all()
    assert ((d * x).sum(axis=1) <= c + 1e-9).all()
    for i in range(n):
        res = linprog(-r[i], A_ub=np.vstack([d[i], np.ones(k)]), b_ub=[c[i], 1],
                      bounds=[(0, None)] * k)
        assert (r[i] * x[i]).sum() == pytest.approx(-res.fun, abs=1e-8)


def _problem(n=40, k=6, seed=0):
    rng = np.random.default_rng(seed)
    p0 = rng.uniform(10, 40, n)
    prices = p0[:, None] * np.linspace(0.7, 1.3, k)
    eps = -rng.uniform(1.2, 3.0, n)
    rates = rng.uniform(2, 6, n)[:, None] * (prices / p0[:, None]) ** eps[:, None]
    return prices, rates, p0


def test_thompson_sampling_beats_the_fixed_price_and_respects_stock():
    prices, rates, _ = _problem()
    T = 200
    stock = 0.6 * rates[:, 2] * T  # stock binds at the third price
    runs = {
        p: simulate_policy(p, prices, rates, stock, T, current=np.full(40, 2), seed=3)
        for p in ("ts_update", "fixed", "greedy")
    }
    ts, fixed = runs["ts_update"], runs["fixed"]
    for run in runs.values():
        assert (run.units.sum(axis=0) <= stock + 1e-9).all()
    # the fixed price sells out early (stock is 60% of its demand) and earns far less
    assert ts.total > 1.05 * fixed.total
    # within a few percent of the fluid upper bound, which no policy beats in expectation
    bound = ts.bound_per_period.sum() * T
    assert 0.95 * bound < ts.total < 1.03 * bound
    assert ts.regret.shape == (T,)


def test_bad_policy_or_shapes_raise():
    prices, rates, _ = _problem(n=3)
    with pytest.raises(ValidationError, match="policy"):
        simulate_policy("nope", prices, rates, np.ones(3), 10)
    with pytest.raises(ValidationError, match="rates"):
        simulate_policy("fixed", prices, rates[:, :2], np.ones(3), 10)
