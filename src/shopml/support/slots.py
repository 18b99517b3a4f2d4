"""Slots for a known customer, read from the workspace: their last order and its status.

``read(sql, params)`` is any function returning a pandas frame (the service's read-only reader,
or ``Workspace.sql``). One query per customer; a customer with no orders gets no order slots, so
the knowledge base falls back to its generic answer rather than invent an order.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd

LAST_ORDER_SQL = """
WITH mine AS (SELECT * FROM orders WHERE user_id = ?),
last AS (SELECT order_id FROM mine ORDER BY ts DESC, order_id DESC LIMIT 1)
SELECT m.order_id, min(m.ts) AS ts, any_value(m.status) AS status,
       sum(coalesce(m.quantity, 1)) AS items,
       sum(coalesce(m.quantity, 1) * m.unit_price) AS total,
       (SELECT count(DISTINCT order_id) FROM mine) AS orders_count
FROM mine m JOIN last USING (order_id) GROUP BY m.order_id
"""

STATUS_WORDS = {
    "completed": "completed",
    "cancelled": "cancelled",
    "canceled": "cancelled",
    "returned": "returned",
}


def customer_slots(
    read: Callable[..., pd.DataFrame], user_id: str | None, currency: str = ""
) -> dict[str, Any]:
    """``order_id, order_date, order_status, order_total, order_items, orders_count`` for the
    customer's last order; ``{}`` for an unknown customer or one without orders."""
    if not user_id:
        return {}
    try:
        df = read(LAST_ORDER_SQL, [str(user_id)])
    except Exception:  # noqa: BLE001 - a workspace without an orders table has no slots
        return {}
    if df.empty:
        return {}
    r = df.iloc[0]
    slots: dict[str, Any] = {
        "order_id": str(r["order_id"]),
        "order_status": STATUS_WORDS.get(str(r["status"]).lower(), str(r["status"]))
        if pd.notna(r["status"])
        else None,
        "order_items": int(r["items"]) if pd.notna(r["items"]) else None,
        "orders_count": int(r["orders_count"]),
    }
    if pd.notna(r["ts"]):
        slots["order_date"] = pd.Timestamp(r["ts"]).strftime("%Y-%m-%d")
    if pd.notna(r["total"]):
        slots["order_total"] = f"{float(r['total']):.2f}{(' ' + currency) if currency else ''}"
    return {k: v for k, v in slots.items() if v is not None}
