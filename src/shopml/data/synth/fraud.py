"""Fraudulent orders with the signals real ones leave: rings of fresh accounts sharing a few
devices, checkout minutes after sign-up, expensive goods, hurried sessions, odd hours, an IP
country that is not the shipping country."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from shopml.data.synth.calendar import FRAUD_HOURS, Calendar, sample_seconds
from shopml.data.synth.catalogue import Catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.customers import AGE_WEIGHTS, Customers
from shopml.data.synth.pricing import PricePaths
from shopml.data.synth.records import (
    CART,
    PURCHASE,
    VIEW,
    Events,
    Lines,
    Orders,
    Sessions,
    group_cumsum,
    group_rank,
    group_starts,
)
from shopml.data.synth.words import AGE_BANDS, COUNTRIES, COUNTRY_WEIGHTS, DEVICES

DEVICES_PER_RING = 0.8  # 1 + Poisson(this) devices shared by a ring's accounts
ACCOUNTS_PER_ORDER = 0.7  # a ring opens ceil(this * its orders) accounts
SIGNUP_LEAD = 240.0  # mean seconds from sign-up to the account's first checkout
EXTRA_LINES, EXTRA_QUANTITY = 0.3, 0.8  # lines = 1 + Binomial(2, .3); quantity = 1 + Poisson(.8)
VALUE_TILT = 1.2  # items chosen with probability proportional to price ** this
GAP, CART_DELAY, CHECKOUT_DELAY = 6.0, 3.0, 8.0  # mean seconds: fraudsters do not browse
CANCEL_RATE = 0.2  # the shop catches some before shipping
FOREIGN_IP_SHARE = 0.5
PAYMENT_WEIGHTS = (0.85, 0.1, 0.0, 0.05)  # card, paypal, invoice, gift_card
CHANNEL_WEIGHTS = (0.05, 0.3, 0.15, 0.0, 0.5)  # organic, paid_search, social, email, direct


@dataclass(frozen=True)
class Fraud:
    accounts: Customers
    sessions: Sessions
    events: Events
    orders: Orders
    lines: Lines


def make_fraud(
    cfg: SimConfig,
    rng: np.random.Generator,
    cat: Catalogue,
    paths: PricePaths,
    cal: Calendar,
    n_users: int,
    n_sessions: int,
    n_devices: int,
    n_honest_orders: int,
) -> Fraud:
    """``fraud_rate`` of all orders, placed by rings on top of the honest shop.

    Users, sessions and devices are numbered after the honest ones (``n_users`` ...).
    """
    n = int(round(cfg.fraud_rate / (1.0 - cfg.fraud_rate) * n_honest_orders))
    n_rings = max(1, int(round(n / cfg.fraud_ring_size)))
    ring = rng.integers(0, n_rings, n)
    n_dev = 1 + rng.poisson(DEVICES_PER_RING, n_rings)
    device = (
        n_devices
        + (np.cumsum(n_dev) - n_dev)[ring]
        + np.floor(rng.random(n) * n_dev[ring]).astype(np.int64)
    )
    n_acc = np.maximum(
        1, np.ceil(ACCOUNTS_PER_ORDER * np.bincount(ring, minlength=n_rings))
    ).astype(np.int64)
    raw_account = (np.cumsum(n_acc) - n_acc)[ring] + np.floor(rng.random(n) * n_acc[ring]).astype(
        np.int64
    )
    _, account = np.unique(raw_account, return_inverse=True)
    n_accounts = int(account.max()) + 1 if n else 0

    day = rng.integers(0, cfg.days, n)
    start = np.sort(sample_seconds(rng, day, FRAUD_HOURS))  # sessions numbered in time order
    day = np.minimum((start // 86_400).astype(np.int64), cfg.days - 1)
    first = np.full(n_accounts, np.inf)
    np.minimum.at(first, account, start)
    signup = first - rng.exponential(SIGNUP_LEAD, n_accounts)
    country = rng.choice(len(COUNTRIES), size=n_accounts, p=COUNTRY_WEIGHTS)
    device_num = np.zeros(n_accounts, dtype=np.int64)
    device_num[account] = device
    accounts = Customers(
        signup_sec=signup,
        country=country,
        device=rng.choice(len(DEVICES), size=n_accounts, p=(0.5, 0.5, 0.0)),
        channel=rng.choice(len(CHANNEL_WEIGHTS), size=n_accounts, p=CHANNEL_WEIGHTS),
        age_band=rng.choice(len(AGE_BANDS), size=n_accounts, p=AGE_WEIGHTS),
        taste=np.zeros((n_accounts, cfg.n_factors)),
        price_sensitivity=np.zeros(n_accounts),
        activity=np.zeros(n_accounts),
        device_num=device_num,
        fraud=np.ones(n_accounts, dtype=bool),
    )

    # lines: a few expensive, resellable items, bought in a hurry
    n_lines = 1 + rng.binomial(2, EXTRA_LINES, n)
    order = np.repeat(np.arange(n), n_lines)
    weight = cat.base_price**VALUE_TILT
    item = rng.choice(cat.n, size=order.size, p=weight / weight.sum())
    quantity = (1 + rng.poisson(EXTRA_QUANTITY, order.size)).astype(float)
    price = paths.price[item, day[order]]
    view_sec = start[order] + group_cumsum(rng.exponential(GAP, order.size), order)
    cart_sec = view_sec + rng.exponential(CART_DELAY, order.size)
    starts = group_starts(order)
    checkout = (np.maximum.reduceat(cart_sec, starts) if n else np.zeros(0)) + rng.exponential(
        CHECKOUT_DELAY, n
    )
    session = n_sessions + order
    events = (
        Events.make(session, item, view_sec, VIEW, price=price)
        .concat(Events.make(session, item, cart_sec, CART, quantity, price))
        .concat(Events.make(session, item, checkout[order], PURCHASE, quantity, price))
    )
    user = n_users + account
    ship = country[account]
    orders = Orders(
        session=n_sessions + np.arange(n),
        user=user,
        sec=checkout,
        checkout_seconds=checkout - start,
        fraud=np.ones(n, dtype=bool),
        device=device,
        payment=rng.choice(len(PAYMENT_WEIGHTS), size=n, p=PAYMENT_WEIGHTS),
        ip_country=np.where(
            rng.random(n) < FOREIGN_IP_SHARE, rng.integers(0, len(COUNTRIES), n), ship
        ),
        ship_country=ship,
        cancelled=rng.random(n) < CANCEL_RATE,
    )
    lines = Lines(
        order=order,
        line=group_rank(order) + 1,
        item=item,
        quantity=quantity,
        unit_price=price,
        satisfaction=np.full(order.size, np.nan),
    )
    sessions = Sessions(
        user=user,
        start=start,
        day=day,
        category=cat.category[item[starts]] if n else np.zeros(0, dtype=np.int64),
        fraud=np.ones(n, dtype=bool),
    )
    return Fraud(accounts, sessions, events, orders, lines)
