"""Replay a replenishment policy over a held-out period of real demand.

Periodic review, one review per period, lost sales (an online shop's unmet order goes
elsewhere). In period ``t``: the orders due arrive; the policy sees the inventory position
(on hand + on order) and, for base-stock, orders up to its level ``S[t]`` (for (s, S): only when
the position is at or below ``s[t]``, then up to ``S[t]``); an order placed in ``t`` arrives at the
start of ``t + lead_time`` (``lead_time = 0``: before the period's demand); demand is served
from stock on hand and the rest is lost. Costs: ``holding`` per unit left at the end of a
period, ``shortage`` per unit lost, ``order_cost`` per order placed.

Vectorised over items (arrays ``[items, periods]``); the loop runs over the periods only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from shopml.core.errors import ValidationError

__all__ = ["SimulationResult", "simulate"]


@dataclass
class SimulationResult:
    """Totals over items and periods (and per-item arrays for plots)."""

    fill_rate: float
    cycle_service: float
    stockout_periods: int
    avg_on_hand: float
    holding_cost: float
    shortage_cost: float
    ordering_cost: float
    total_cost: float
    orders: int
    on_hand: np.ndarray  # [items, periods] at the end of each period
    lost: np.ndarray  # [items, periods]
    ordered: np.ndarray  # [items, periods]

    def summary(self) -> dict[str, float]:
        """The scalar results (JSON-ready)."""
        return {k: v for k, v in asdict(self).items() if not isinstance(v, np.ndarray)}


def simulate(
    demand: np.ndarray,
    order_up_to: np.ndarray,
    reorder_point: np.ndarray | None = None,
    lead_time: int = 0,
    initial: np.ndarray | None = None,
    holding: float = 1.0,
    shortage: float = 19.0,
    order_cost: float = 0.0,
) -> SimulationResult:
    """Replay ``demand[items, periods]`` under the levels ``order_up_to[items, periods]``
    (base-stock, or (s, S) with ``reorder_point``). ``initial`` on hand defaults to the first
    period's order-up-to level."""
    D = np.asarray(demand, float)
    S = np.asarray(order_up_to, float)
    if D.ndim != 2 or S.shape != D.shape:
        raise ValidationError(
            f"demand and order_up_to must be [items, periods] of one shape; got {D.shape} and {S.shape}"
        )
    if (D < 0).any() or not np.isfinite(D).all() or not np.isfinite(S).all():
        raise ValidationError("demand must be finite and >= 0, order_up_to finite")
    if lead_time < 0:
        raise ValidationError(f"lead_time must be >= 0, got {lead_time}")
    s_pt = None if reorder_point is None else np.asarray(reorder_point, float)
    if s_pt is not None and s_pt.shape != D.shape:
        raise ValidationError("reorder_point must have the shape of demand")
    n, T = D.shape
    on_hand = np.clip(S[:, 0] if initial is None else np.asarray(initial, float), 0, None).copy()
    pipeline = np.zeros((n, T + lead_time + 1))
    H, L, Q = np.zeros((n, T)), np.zeros((n, T)), np.zeros((n, T))
    for t in range(T):
        on_hand += pipeline[:, t]
        position = on_hand + pipeline[:, t + 1 :].sum(axis=1)
        want = np.clip(S[:, t] - position, 0, None)
        if s_pt is not None:
            want = np.where(position <= s_pt[:, t], want, 0.0)
        Q[:, t] = want
        if lead_time == 0:
            on_hand += want
        else:
            pipeline[:, t + lead_time] += want
        sold = np.minimum(on_hand, D[:, t])
        L[:, t] = D[:, t] - sold
        on_hand -= sold
        H[:, t] = on_hand
    total_d = D.sum()
    demand_periods = D > 0
    stockouts = (L > 1e-9) & demand_periods
    orders = int((Q > 1e-9).sum())
    hc, sc, oc = holding * H.sum(), shortage * L.sum(), order_cost * orders
    return SimulationResult(
        fill_rate=float(1 - L.sum() / total_d) if total_d > 0 else float("nan"),
        cycle_service=float(1 - stockouts.sum() / max(demand_periods.sum(), 1)),
        stockout_periods=int(stockouts.sum()),
        avg_on_hand=float(H.mean()),
        holding_cost=float(hc),
        shortage_cost=float(sc),
        ordering_cost=float(oc),
        total_cost=float(hc + sc + oc),
        orders=orders,
        on_hand=H,
        lost=L,
        ordered=Q,
    )
