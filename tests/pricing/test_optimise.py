from __future__ import annotations

import itertools

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.pricing.optimise import PriceLadder, optimise_prices


def _case(rng: np.random.Generator, n: int = 4, k: int = 4):
    p_now = rng.uniform(5, 20, n)
    P = p_now[:, None] * np.linspace(0.8, 1.2, k)
    eps = -rng.uniform(0.5, 3, n)
    base = rng.uniform(1, 10, n)
    Q = base[:, None] * (P / p_now[:, None]) ** eps[:, None]
    cost = rng.uniform(2, 12, n)
    cap = np.where(rng.random(n) < 0.3, base * rng.uniform(0.8, 1.2, n), np.nan)
    return p_now, P, Q, cost, cap


def _brute(p_now, P, Q, cost, cap, min_margin, max_change, cat, budget):
    n, k = P.shape
    ok = (
        (np.abs(P / p_now[:, None] - 1) <= max_change + 1e-9)
        & (P - cost[:, None] >= min_margin * P - 1e-9)
        & (~np.isfinite(cap)[:, None] | (Q <= cap[:, None] + 1e-9))
    )
    live = ok.any(axis=1)
    best = -np.inf
    for combo in itertools.product(range(k), repeat=n):
        idx = np.array(combo)
        rows = np.arange(n)
        if not ok[rows, idx][live].all():
            continue
        spend = np.maximum(p_now - P[rows, idx], 0) * Q[rows, idx]
        if any(spend[(cat == c) & live].sum() > b + 1e-9 for c, b in budget.items()):
            continue
        best = max(best, ((P[rows, idx] - cost) * Q[rows, idx])[live].sum())
    return best


@pytest.mark.parametrize("seed", range(25))
def test_program_matches_brute_force_on_small_cases(seed):
    rng = np.random.default_rng(seed)
    p_now, P, Q, cost, cap = _case(rng)
    cat = np.array(["a", "a", "b", "b"])
    budget = {"a": float(rng.uniform(0, 10)), "b": float(rng.uniform(0, 30))}
    res = optimise_prices(p_now, P, Q, cost, cap, 0.2, 0.15, cat, budget)
    best = _brute(p_now, P, Q, cost, cap, 0.2, 0.15, cat, budget)
    assert res["profit"].sum(skipna=True) == pytest.approx(best, rel=1e-9, abs=1e-9)
    # every product priced on its ladder (or kept when nothing is allowed), constraints hold
    live = res["binding"] != "infeasible"
    assert (np.abs(res.loc[live, "change"]) <= 0.15 + 1e-9).all()
    margin = (res["price"] - cost) / res["price"]
    assert (margin[live] >= 0.2 - 1e-9).all()


def test_binding_constraint_is_named():
    p_now = np.array([10.0, 10.0, 10.0])
    P = p_now[:, None] * np.array([0.8, 0.9, 1.0, 1.1, 1.2])
    # inelastic demand: profit rises with price, so every product wants the top of the ladder
    Q = 10 * (P / 10.0) ** -0.5
    res = optimise_prices(p_now, P, Q, cost=np.array([5.0, 5.0, 5.0]), max_change=0.1,
                          capacity=np.array([np.nan, np.nan, 9.7]))
    assert res["binding"].tolist() == ["max_change", "max_change", "max_change"]
    res = optimise_prices(p_now, P, Q, cost=np.array([5.0, 5.0, 5.0]))
    assert res["binding"].tolist() == ["ladder"] * 3
    assert np.allclose(res["price"], 12.0)
    # elastic demand: profit peaks at p = c e / (1 + e) = 8 (a 25% margin); a 40% floor binds
    Q2 = 10 * (P / 10.0) ** -4.0
    res = optimise_prices(p_now, P, Q2, cost=np.array([6.0, 1.0, 1.0]), min_margin=0.4)
    assert res["binding"].iloc[0] == "min_margin"
    assert res["price"].iloc[0] == pytest.approx(10.0)
    # stock of 9 units: the price must rise until demand fits the stock
    res = optimise_prices(p_now, P, Q2, cost=np.array([1.0, 1.0, 1.0]),
                          capacity=np.array([9.0, np.inf, np.inf]))
    assert res["binding"].iloc[0] == "capacity" and res["units"].iloc[0] <= 9.0


def test_no_allowed_price_keeps_the_current_one():
    P = np.array([[8.0, 10.0, 12.0]])
    res = optimise_prices(np.array([10.0]), P, np.ones((1, 3)), cost=np.array([20.0]),
                          min_margin=0.1)
    assert res["binding"].iloc[0] == "infeasible" and res["price"].iloc[0] == 10.0


def test_bad_inputs_are_named():
    with pytest.raises(ValidationError, match="ladder and units"):
        optimise_prices(np.array([1.0, 2.0]), np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValidationError, match="current_price"):
        optimise_prices(np.array([-1.0]), np.ones((1, 3)), np.ones((1, 3)))
    with pytest.raises(ValidationError, match="category"):
        optimise_prices(np.array([1.0]), np.ones((1, 3)), np.ones((1, 3)),
                        category_budget={"a": 1.0})
    with pytest.raises(ValidationError, match="PriceLadder"):
        PriceLadder(1.2, 0.8).prices(np.array([1.0]))


def test_ladder_contains_the_current_price():
    p = PriceLadder(0.8, 1.2, 4).prices(np.array([10.0, 3.0]))
    assert (p == np.array([[10.0], [3.0]])).any(axis=1).all()
    assert p.shape == (2, 5)
