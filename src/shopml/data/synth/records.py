"""What the simulator generates before it becomes tables: parallel arrays over internal indices.

Users, sessions, orders and items are referred to by internal integer index; string ids are
given only when the tables are built, in time order, so that an id carries no hidden signal.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

EVENT_NAMES = np.array(
    ["search", "view", "click", "add_to_cart", "remove_from_cart", "purchase"], dtype=object
)
SEARCH, VIEW, CLICK, CART, REMOVE, PURCHASE = range(6)


class _Concat:
    """``a.concat(b)``: every field of ``b`` appended to ``a``'s (same record type)."""

    def concat(self, other):  # type: ignore[no-untyped-def]
        return type(self)(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(self)
            }
        )  # type: ignore[arg-type]


@dataclass(frozen=True)
class Sessions(_Concat):
    user: np.ndarray
    start: np.ndarray  # seconds from the start of the horizon
    day: np.ndarray
    category: np.ndarray  # the category the visit is about
    fraud: np.ndarray


@dataclass(frozen=True)
class Events(_Concat):
    session: np.ndarray
    item: np.ndarray  # -1: no item (a search)
    sec: np.ndarray
    kind: np.ndarray  # index into EVENT_NAMES
    quantity: np.ndarray  # NaN where it does not apply
    price: np.ndarray  # NaN where it does not apply
    query: np.ndarray  # object; None except for searches

    @classmethod
    def make(cls, session, item, sec, kind, quantity=None, price=None, query=None) -> Events:  # type: ignore[no-untyped-def]
        n = np.asarray(session).size
        return cls(
            session=np.asarray(session, dtype=np.int64),
            item=np.broadcast_to(np.asarray(item, dtype=np.int64), n).copy(),
            sec=np.asarray(sec, dtype=float),
            kind=np.full(n, kind, dtype=np.int8),
            quantity=np.full(n, np.nan) if quantity is None else np.asarray(quantity, dtype=float),
            price=np.full(n, np.nan) if price is None else np.asarray(price, dtype=float),
            query=np.full(n, None, dtype=object)
            if query is None
            else np.asarray(query, dtype=object),
        )


@dataclass(frozen=True)
class Orders(_Concat):
    session: np.ndarray
    user: np.ndarray
    sec: np.ndarray  # checkout time
    checkout_seconds: np.ndarray  # from the start of the session to checkout
    fraud: np.ndarray
    device: np.ndarray  # physical device number
    payment: np.ndarray  # index into PAYMENTS
    ip_country: np.ndarray  # index into COUNTRIES
    ship_country: np.ndarray
    cancelled: np.ndarray


@dataclass(frozen=True)
class Lines(_Concat):
    order: np.ndarray
    line: np.ndarray  # 1-based within the order
    item: np.ndarray
    quantity: np.ndarray
    unit_price: np.ndarray
    satisfaction: np.ndarray  # NaN for fraudulent orders (nobody uses the goods)


def group_starts(keys: np.ndarray) -> np.ndarray:
    """First index of each run of equal values in a sorted array."""
    if keys.size == 0:
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]])


def group_cumsum(values: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """Cumulative sum restarting at each run of ``keys`` (sorted)."""
    starts = group_starts(keys)
    cs = np.cumsum(values)
    counts = np.diff(np.r_[starts, values.size])
    return cs - np.repeat(cs[starts] - values[starts], counts)


def group_rank(keys: np.ndarray) -> np.ndarray:
    """0-based position of each element within its run of ``keys`` (sorted)."""
    return group_cumsum(np.ones(keys.size, dtype=np.int64), keys) - 1


def gumbel(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard Gumbel noise as ``-log(Exp(1))`` (numpy's ziggurat exponential is the fast path)."""
    return -np.log(np.maximum(rng.standard_exponential(size=shape), 1e-300))


def scores(rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """``rows @ cols.T`` for a small inner dimension without BLAS: its threads only cost here."""
    return np.einsum("nk,mk->nm", rows, cols)
