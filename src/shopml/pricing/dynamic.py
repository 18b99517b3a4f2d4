"""Dynamic pricing that learns: Thompson sampling with an inventory constraint.

Ferreira, Simchi-Levi & Wang, "Online network revenue management using Thompson sampling",
Operations Research 66(6), 2018. A product has a ladder of :math:`K` prices, a stock :math:`I`
and :math:`T` periods to sell it in. Demand at price :math:`k` is Poisson with unknown rate
:math:`\\lambda_k`, a Gamma posterior per price. Each period the policy

1. samples :math:`\\theta_k \\sim` the posterior of :math:`\\lambda_k`;
2. solves the fluid LP :math:`\\max_x \\sum_k r_k \\theta_k x_k` s.t.
   :math:`\\sum_k \\theta_k x_k \\le c`, :math:`\\sum_k x_k \\le 1`, :math:`x \\ge 0`, where
   :math:`r_k` is the margin at price :math:`k` and :math:`c` the stock per period
   (``TS-fixed``: :math:`I / T`; ``TS-update``: what is left over the periods left);
3. offers price :math:`k` with probability :math:`x_k` (otherwise a shut-off price that sells
   nothing), observes the units sold and updates that price's posterior.

Baselines on the same demand draws: ``fixed`` keeps the current price; ``greedy`` offers the
price of highest posterior-mean margin (it learns, but never explores on purpose and ignores the
stock). Regret is measured against the fluid LP with the true rates, an upper bound on what any
policy can earn in expectation (Gallego & van Ryzin 1994). Everything is vectorised over
products: each is an independent problem run side by side.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopml.core.errors import ValidationError
from shopml.core.progress import track

POLICIES = ("ts_update", "ts_fixed", "greedy", "fixed")


def fluid_lp(reward: np.ndarray, demand: np.ndarray, capacity: np.ndarray) -> np.ndarray:
    """Solve :math:`\\max r\\cdot x` s.t. :math:`d\\cdot x \\le c,\\ \\sum x \\le 1,\\ x \\ge 0` per row.

    ``reward`` and ``demand`` are ``(n, K)``, ``capacity`` ``(n,)``; returns ``x`` ``(n, K)``.
    With two constraints an optimal vertex uses at most two prices, so every candidate vertex
    (one price, all or part of the time, or two prices mixed to use exactly the capacity) is
    enumerated and the best kept: exact, and vectorised over rows.
    """
    r = np.asarray(reward, dtype=float)
    d = np.maximum(np.asarray(demand, dtype=float), 1e-300)
    c = np.maximum(np.asarray(capacity, dtype=float), 0.0)[:, None]
    n, K = r.shape
    # one price k for a share min(1, c / d_k) of the time
    share = np.minimum(1.0, c / d)
    single = np.where(r > 0, r * share, -np.inf)
    best_single = single.max(axis=1)
    k_single = single.argmax(axis=1)
    # two prices j (selling less than c) and k (more), mixed so that demand is exactly c
    dj, dk = d[:, :, None], d[:, None, :]
    lam = (dk - c[:, :, None]) / np.where(dk > dj, dk - dj, np.inf)
    valid = (dj <= c[:, :, None]) & (dk > c[:, :, None])
    pair = np.where(valid, lam * r[:, :, None] + (1 - lam) * r[:, None, :], -np.inf)
    flat = pair.reshape(n, K * K)
    best_pair = flat.max(axis=1)
    jk = flat.argmax(axis=1)
    x = np.zeros((n, K))
    rows = np.arange(n)
    use_pair = best_pair > best_single
    use_single = ~use_pair & (best_single > 0)
    x[rows[use_single], k_single[use_single]] = share[rows[use_single], k_single[use_single]]
    j, k = jk // K, jk % K
    lp = lam.reshape(n, K * K)[rows, jk]
    x[rows[use_pair], j[use_pair]] = lp[use_pair]
    x[rows[use_pair], k[use_pair]] += 1 - lp[use_pair]
    return x


@dataclass
class PricingRun:
    """Per-period reward (``(T, n)``), cumulative regret against the fluid bound, sell-through."""

    policy: str
    reward: np.ndarray
    units: np.ndarray  # (T, n) units sold
    bound_per_period: np.ndarray  # (n,) fluid LP value with the true rates

    @property
    def regret(self) -> np.ndarray:
        """Cumulative regret over time, summed over products (``(T,)``)."""
        per_t = self.bound_per_period.sum() - self.reward.sum(axis=1)
        return np.cumsum(per_t)

    @property
    def total(self) -> float:
        return float(self.reward.sum())


def simulate_policy(
    policy: str,
    prices: np.ndarray,
    rates: np.ndarray,
    inventory: np.ndarray,
    periods: int,
    cost: np.ndarray | None = None,
    current: np.ndarray | None = None,
    prior_shape: float = 1.0,
    prior_rate: float = 1.0,
    seed: int = 0,
    show_progress: bool = False,
) -> PricingRun:
    """Run ``policy`` over ``periods`` periods for every product at once.

    ``prices`` and true ``rates`` (expected units per period at each price) are ``(n, K)``;
    ``inventory`` ``(n,)``; ``current`` the index of the current price per product (for
    ``fixed``; default the middle of the ladder). Demand draws depend only on ``seed``, the
    period and the product, so policies are compared on the same randomness where their
    choices agree.
    """
    if policy not in POLICIES:
        raise ValidationError(f"policy={policy!r}: expected one of {POLICIES}")
    P = np.asarray(prices, dtype=float)
    lam = np.asarray(rates, dtype=float)
    if P.ndim != 2 or lam.shape != P.shape:
        raise ValidationError(f"prices and rates: expected equal (n, K) arrays, got {P.shape}, {lam.shape}")
    if np.any(lam < 0) or np.any(P <= 0):
        raise ValidationError("rates must be >= 0 and prices > 0")
    n, K = P.shape
    if int(periods) < 1:
        raise ValidationError(f"periods={periods!r}: expected >= 1")
    T = int(periods)
    stock = np.asarray(inventory, dtype=float).copy()
    if stock.shape != (n,) or np.any(stock < 0):
        raise ValidationError(f"inventory: expected {n} non-negative numbers")
    c = np.zeros(n) if cost is None else np.asarray(cost, dtype=float)
    margin = P - c[:, None]
    now = np.full(n, K // 2) if current is None else np.asarray(current, dtype=int)
    bound = (fluid_lp(margin, lam, stock / T) * margin * lam).sum(axis=1)

    alpha = np.full((n, K), float(prior_shape))
    beta = np.full((n, K), float(prior_rate))
    rng = np.random.default_rng(seed)
    # common random numbers: one uniform per product and period for the offer, and the
    # Poisson draws of every price, so every policy meets the same demand
    offer_u = rng.random((T, n))
    demand_seed = rng.integers(0, 2**63 - 1)
    reward = np.zeros((T, n))
    units = np.zeros((T, n))
    rows = np.arange(n)
    steps = track(range(T), f"pricing {policy}", total=T) if show_progress else range(T)
    for t in steps:  # periods are sequential by nature; products are vectorised
        if policy == "fixed":
            k = now.copy()
            offered = np.ones(n, dtype=bool)
        elif policy == "greedy":
            k = np.argmax(margin * alpha / beta, axis=1)
            offered = np.ones(n, dtype=bool)
        else:
            theta = rng.gamma(alpha, 1.0 / beta)
            cap = stock / (T - t) if policy == "ts_update" else np.asarray(inventory, float) / T
            x = fluid_lp(margin, theta, cap)
            cum = np.cumsum(x, axis=1)
            k = np.minimum((offer_u[t][:, None] > cum).sum(axis=1), K - 1)
            offered = offer_u[t] < cum[:, -1]
        offered &= stock > 0
        draws = np.random.default_rng([demand_seed, t]).poisson(lam)  # (n, K), same for all
        demand = draws[rows, k]
        sold = np.where(offered, np.minimum(demand, stock), 0)
        stock -= sold
        reward[t] = sold * margin[rows, k]
        units[t] = sold
        if policy != "fixed":
            # a stock-out censors demand: learn only from periods with stock left after sales
            learn = offered & (stock > 0)
            alpha[rows[learn], k[learn]] += demand[learn]
            beta[rows[learn], k[learn]] += 1.0
    return PricingRun(policy, reward, units, bound)
