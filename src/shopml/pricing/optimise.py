"""Profit-maximising prices over price ladders: a mixed-integer program solved by HiGHS.

Each product :math:`i` gets exactly one price from its ladder :math:`p_{i1} < \\dots < p_{iK}`:
binary :math:`x_{ik}`, :math:`\\sum_k x_{ik} = 1`, maximising
:math:`\\sum_{ik} (p_{ik} - c_i)\\, q_{ik}\\, x_{ik}` with :math:`q_{ik}` the expected units over the
horizon from the elasticity model. Constraints:

- inventory capacity: :math:`q_{ik} \\le \\mathrm{stock}_i` (a price that would sell more than
  the stock is not allowed; the optimiser prices up to what is on hand);
- minimum margin where the unit cost is known: :math:`(p_{ik} - c_i) / p_{ik} \\ge m`;
- maximum change from the current price: :math:`|p_{ik} / p^{\\mathrm{now}}_i - 1| \\le \\delta`;
- optional category budget: the markdown spent in category :math:`c`,
  :math:`\\sum_{i \\in c, k} \\max(p^{\\mathrm{now}}_i - p_{ik}, 0)\\, q_{ik}\\, x_{ik} \\le B_c`,
  the only constraint that couples products (and so the reason for the MIP).

Per-product constraints fix :math:`x_{ik} = 0` through the variable bounds; the budget rows go
to ``scipy.optimize.milp``. A product none of whose ladder prices is allowed keeps its current
price and is reported with ``binding = "infeasible"``. For every product the result names the
constraint that binds: the one that rules out the price the product would get without any
constraint (``ladder`` when that price is the end of the ladder itself).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import csr_array

from shopml.core.errors import ValidationError

CONSTRAINTS = ("max_change", "min_margin", "capacity", "category_budget")


@dataclass(frozen=True)
class PriceLadder:
    """Candidate prices as multiples of the current price (``n_points`` from ``low`` to ``high``)."""

    low: float = 0.8
    high: float = 1.2
    n_points: int = 9

    def prices(self, current: np.ndarray) -> np.ndarray:
        """``(n, n_points)`` ladder per product (rounded to cents)."""
        if not 0 < self.low <= 1 <= self.high or self.n_points < 2:
            raise ValidationError(
                f"PriceLadder({self.low}, {self.high}, {self.n_points}): expected "
                "0 < low <= 1 <= high and n_points >= 2"
            )
        mult = np.unique(np.r_[np.linspace(self.low, self.high, self.n_points), 1.0])
        return np.round(current[:, None] * mult[None, :], 2)


def optimise_prices(
    current_price: np.ndarray,
    ladder: np.ndarray,
    units: np.ndarray,
    cost: np.ndarray | None = None,
    capacity: np.ndarray | None = None,
    min_margin: float | None = None,
    max_change: float | None = None,
    category: np.ndarray | None = None,
    category_budget: dict[str, float] | None = None,
    time_limit: float = 60.0,
) -> pd.DataFrame:
    """Choose one ladder price per product (see the module docstring).

    ``ladder`` and ``units`` are ``(n, K)`` (expected units over the horizon at each price;
    ``nan`` pads a shorter ladder); ``cost`` and ``capacity`` per product (``nan`` = unknown /
    unlimited). Returns one row per product: ``price``, ``units``, ``profit``, ``revenue``,
    ``change`` (relative to the current price), ``binding`` and the same at the current price.
    """
    p_now = _vector(current_price, "current_price")
    n = p_now.size
    P = np.asarray(ladder, dtype=float)
    Q = np.asarray(units, dtype=float)
    if P.ndim != 2 or P.shape[0] != n or Q.shape != P.shape:
        raise ValidationError(
            f"ladder and units: expected two ({n}, K) arrays, got {P.shape} and {Q.shape}"
        )
    pad = ~np.isfinite(P) | ~np.isfinite(Q)
    if np.any(P[~pad] <= 0) or np.any(Q[~pad] < 0):
        raise ValidationError("ladder: prices must be > 0 and units >= 0")
    c = np.zeros(n) if cost is None else _vector(cost, "cost", n, allow_nan=True)
    cap = np.full(n, np.nan)
    if capacity is not None:  # inf or nan: no stock limit
        raw = np.asarray(capacity, dtype=float).ravel()
        cap = _vector(np.where(np.isposinf(raw), np.nan, raw), "capacity", n, True)
    known_cost = np.isfinite(c)
    c0 = np.where(known_cost, c, 0.0)
    profit = np.where(pad, -np.inf, (P - c0[:, None]) * Q)
    spend = np.where(pad, 0.0, np.maximum(p_now[:, None] - P, 0) * Q)

    allowed = {"ladder": ~pad}
    if max_change is not None:
        if not max_change >= 0:
            raise ValidationError(f"max_change={max_change!r}: expected a share >= 0")
        allowed["max_change"] = np.abs(P / p_now[:, None] - 1) <= max_change + 1e-9
    if min_margin is not None:
        if not min_margin < 1:
            raise ValidationError(f"min_margin={min_margin!r}: expected a share below 1")
        ok = (P - c0[:, None]) >= min_margin * P - 1e-9
        allowed["min_margin"] = ok | ~known_cost[:, None]
    has_cap = np.isfinite(cap)
    allowed["capacity"] = (Q <= cap[:, None] + 1e-9) | ~has_cap[:, None]
    feasible = np.logical_and.reduce(list(allowed.values()))
    infeasible = ~feasible.any(axis=1)

    # coupling rows: one budget per named category
    rows, budgets, names = [], [], []
    if category_budget:
        if category is None:
            raise ValidationError("category_budget needs category (one per product)")
        cat = np.asarray(category).astype(str)
        if cat.size != n:
            raise ValidationError(f"category: {cat.size} values for {n} products")
        for name, b in category_budget.items():
            members = (cat == str(name)) & ~infeasible
            if not members.any():
                continue
            rows.append(np.where(members[:, None] & feasible, spend, 0.0).ravel())
            budgets.append(float(b))
            names.append(str(name))

    choice = _solve(profit, feasible, infeasible, rows, budgets, time_limit)
    idx = np.arange(n)
    # without any constraint, each product's best ladder price (for naming what binds)
    free = np.argmax(np.where(pad, -np.inf, profit), axis=1)
    binding = np.full(n, "none", dtype=object)
    for name in ("max_change", "min_margin", "capacity"):
        if name in allowed:
            hit = (binding == "none") & (choice != free) & ~allowed[name][idx, free]
            binding[hit] = name
    budget_hit = (binding == "none") & (choice != free) & ~infeasible
    binding[budget_hit] = "category_budget"
    K = P.shape[1]
    last = K - 1 - np.argmax(~pad[:, ::-1], axis=1)
    first = np.argmax(~pad, axis=1)
    at_end = (binding == "none") & ((choice == last) | (choice == first)) & (choice != _now(P, p_now))
    binding[at_end] = "ladder"
    binding[infeasible] = "infeasible"

    price = np.where(infeasible, p_now, P[idx, choice])
    units_chosen = np.where(infeasible, np.nan, Q[idx, choice])
    now_k = _now(P, p_now)
    return pd.DataFrame(
        {
            "current_price": p_now,
            "price": price,
            "change": price / p_now - 1,
            "units": units_chosen,
            "revenue": price * units_chosen,
            "profit": np.where(infeasible, np.nan, profit[idx, choice]),
            "current_units": Q[idx, now_k],
            "current_profit": np.where(pad[idx, now_k], np.nan, profit[idx, now_k]),
            "binding": binding.astype(str),
            "cost_known": known_cost,
        }
    )


def _now(P: np.ndarray, p_now: np.ndarray) -> np.ndarray:
    """Index of the ladder point nearest the current price."""
    return np.nanargmin(np.abs(np.where(np.isfinite(P), P, np.inf) - p_now[:, None]), axis=1)


def _solve(
    profit: np.ndarray,
    feasible: np.ndarray,
    infeasible: np.ndarray,
    rows: list[np.ndarray],
    budgets: list[float],
    time_limit: float,
) -> np.ndarray:
    n, K = profit.shape
    if not rows:
        # products do not interact: the MIP separates into one argmax per product
        return np.argmax(np.where(feasible, profit, -np.inf), axis=1)
    live = ~infeasible
    obj = np.where(feasible, profit, 0.0)
    obj[~live] = 0.0
    # one-price rows for the products that have a choice
    r = np.repeat(np.flatnonzero(live), K)
    cols = (np.flatnonzero(live)[:, None] * K + np.arange(K)[None, :]).ravel()
    one = csr_array((np.ones(cols.size), (np.searchsorted(np.flatnonzero(live), r), cols)),
                    shape=(int(live.sum()), n * K))
    cons = [LinearConstraint(one, 1, 1)]
    cons.append(LinearConstraint(csr_array(np.vstack(rows)), -np.inf, np.asarray(budgets)))
    upper = (feasible & live[:, None]).astype(float).ravel()
    res = milp(
        -obj.ravel(),
        integrality=np.ones(n * K),
        bounds=Bounds(np.zeros(n * K), upper),
        constraints=cons,
        options={"time_limit": time_limit, "mip_rel_gap": 1e-7},
    )
    if res.x is None:
        raise ValidationError(
            f"the price program has no solution ({res.message}): a category budget is below "
            "what even the products' least-markdown allowed prices spend"
        )
    x = res.x.reshape(n, K)
    return np.argmax(x, axis=1)


def _vector(v: object, name: str, n: int | None = None, allow_nan: bool = False) -> np.ndarray:
    a = np.asarray(v, dtype=float).ravel()
    if n is not None and a.size != n:
        raise ValidationError(f"{name}: {a.size} values for {n} products")
    bad = ~np.isfinite(a) if not allow_nan else np.isinf(a)
    if bad.any() or (np.nan_to_num(a) < 0).any() or (name == "current_price" and (a <= 0).any()):
        raise ValidationError(f"{name}: expected non-negative finite numbers (prices > 0)")
    return a
