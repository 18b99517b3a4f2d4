"""Honest customers' visits: when they come, what they look at, what they cart and buy."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
from scipy.special import expit

from shopml.data.synth.calendar import DAY, HOURS, Calendar, sample_seconds
from shopml.data.synth.catalogue import Catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.customers import Customers
from shopml.data.synth.pricing import PricePaths
from shopml.data.synth.records import (
    CART,
    PURCHASE,
    REMOVE,
    SEARCH,
    VIEW,
    Events,
    Lines,
    Orders,
    Sessions,
    group_rank,
    group_starts,
    gumbel,
    scores,
)
from shopml.data.synth.strings import fill
from shopml.data.synth.words import COUNTRIES, NOUN_SYNONYMS, PAYMENTS

MAX_VIEWS = 20
CHUNK = 1 << 22  # scores computed per block of sessions x items of at most this many cells
ALPHA_CART, ALPHA_BUY, BUY_UTILITY = -2.5, 0.5, 0.5
EXTRA_QUANTITY = 0.15  # quantity = 1 + Poisson(this)
SATISFACTION_NOISE = 0.7
PRICE_FAIRNESS = 0.3  # a bargain pleases: + this * log(p0 / p_paid) in satisfaction
VIEW_GAP, CART_DELAY, CHECKOUT_DELAY, REMOVE_DELAY = 40.0, 20.0, 90.0, 120.0  # mean seconds
REMOVE_SHARE = 0.35  # carted but not bought items that are removed explicitly
PAYMENT_WEIGHTS = (0.45, 0.3, 0.15, 0.1)
FOREIGN_IP_SHARE = 0.03
# Customers leave (buy-till-you-die). After each purchase customer u leaves with probability
# p_u ~ Beta(a, b): a, b are Fader, Hardie & Lee's (2005) BG/NBD estimates on CDNOW (0.793,
# 2.426; mean drop-out 0.25 per purchase), the published fit of a real shop's customers.
DROPOUT_A, DROPOUT_B = 0.793, 2.426
# A bad experience (an order whose worst line is among the least satisfying ~16% of purchases,
# satisfaction z < -1: the defect showed, the match was poor, the price felt unfair) adds a
# chance of leaving of one in three: PwC's "Experience is everything" survey (2018, 15,000
# consumers) found 32% would walk away from a brand they love after one bad experience.
BAD_EXPERIENCE_Z, BAD_EXPERIENCE_DROPOUT = -1.0, 0.32
QUERY_TEMPLATES = (
    "{noun}",
    "{adjective} {noun}",
    "{material} {noun}",
    "{brand} {noun}",
    "{color} {noun}",
    "{color} {material} {noun}",
    "{adjective} {noun} {brand}",
)
# How shoppers' queries differ from the catalogue's words. Rates are assumptions of the order
# reported for e-commerce search logs: about 10-15% of queries carry a misspelling (Hagen et
# al. 2017 find ~10% in web queries, more on mobile), and a fifth of product searches name the
# product in the shopper's words rather than the catalogue's (vocabulary mismatch, the reason
# semantic retrieval exists).
SYNONYM_SHARE = 0.2  # the noun replaced by a synonym where one is known (words.NOUN_SYNONYMS)
TYPO_SHARE = 0.12  # one letter dropped or two neighbouring letters swapped


@dataclass(frozen=True)
class Browsing:
    """The honest side of the shop: sessions, their events and orders, and demand truth."""

    sessions: Sessions
    events: Events
    orders: Orders
    lines: Lines
    base_demand: np.ndarray  # per item: expected units per day at the list price
    views: int
    dropout_prob: np.ndarray  # per customer: P(leaving after a purchase), p_u
    dropout_sec: np.ndarray  # per customer: when they left (inf: still a customer at the end)


def draw_sessions(
    cfg: SimConfig, rng: np.random.Generator, cal: Calendar, cat: Catalogue, cust: Customers
) -> Sessions:
    """Sessions per user ~ Poisson(lambda_u * sum of s(d) after sign-up), days ~ s(d), sorted by time."""
    cum = np.concatenate([[0.0], np.cumsum(cal.season)])
    first_day = np.clip(np.floor(cust.signup_sec / DAY), 0, cfg.days).astype(np.int64)
    n_sess = rng.poisson(cust.activity * (cum[-1] - cum[first_day]))
    user = np.repeat(np.arange(cust.n), n_sess)
    lo = cum[first_day[user]]
    day = np.clip(
        np.searchsorted(cum, lo + rng.random(user.size) * (cum[-1] - lo), side="right") - 1,
        0,
        cfg.days - 1,
    )
    start = sample_seconds(rng, day, HOURS)
    early = start < cust.signup_sec[user]  # on the sign-up day, the visit follows the sign-up
    start[early] = cust.signup_sec[user[early]] + rng.exponential(600.0, int(early.sum()))
    day = np.minimum(np.floor(start / DAY).astype(np.int64), cfg.days - 1)
    order = np.argsort(start, kind="stable")
    user, start, day = user[order], start[order], day[order]

    season = cal.cycle(cat.cat_peak, cat.cat_amplitude)  # (C, days)
    logits = (
        scores(cust.taste[user], cat.cat_factors)
        + np.log(cat.cat_weight)[None, :]
        + np.log(season[:, day].T)
    )
    category = np.argmax(logits + gumbel(rng, logits.shape), axis=1)
    return Sessions(user, start, day, category, np.zeros(user.size, dtype=bool))


def _views(
    cfg: SimConfig, rng: np.random.Generator, cat: Catalogue, cust: Customers, sess: Sessions
) -> tuple[np.ndarray, ...]:
    """Items viewed per session: Plackett-Luce draws without replacement within its category."""
    n_views = np.minimum(1 + rng.poisson(cfg.mean_views - 1.0, sess.user.size), MAX_VIEWS)
    n_views = np.minimum(
        n_views, np.bincount(cat.category, minlength=cat.cat_names.size)[sess.category]
    )
    # the big sessions x items score matrices are float32: only the ranking is taken from them
    taste, beta = cust.taste.astype(np.float32), cust.price_sensitivity.astype(np.float32)
    parts = []
    for c in range(cat.cat_names.size):  # a loop over categories, vectorised within
        rows_c = np.flatnonzero(sess.category == c)
        if not rows_c.size:
            continue
        items = np.flatnonzero(cat.category == c)
        m = items.size
        phi = cat.factors[items].astype(np.float32)
        q, rp = cat.quality[items].astype(np.float32), cat.rel_price[items].astype(np.float32)
        kmax = int(n_views[rows_c].max())
        step = max(1, CHUNK // m)
        for s0 in range(0, rows_c.size, step):
            rows = rows_c[s0 : s0 + step]
            u = sess.user[rows]
            # z = -(utility + Gumbel): the kmax smallest are a Plackett-Luce draw of kmax items
            z = scores(taste[u], phi)
            z += q[None, :]
            z -= beta[u][:, None] * rp[None, :]
            e = rng.standard_exponential(size=z.shape, dtype=np.float32)
            z -= np.log(np.maximum(e, np.float32(1e-30), out=e))  # + Gumbel = - log Exp(1)
            np.negative(z, out=z)
            if kmax < m:
                top = np.argpartition(z, kmax - 1, axis=1)[:, :kmax]
            else:
                top = np.broadcast_to(np.arange(m), (rows.size, m))
            top = np.take_along_axis(top, np.argsort(np.take_along_axis(z, top, 1), axis=1), 1)
            keep = np.arange(top.shape[1])[None, :] < n_views[rows][:, None]
            r, rank = np.nonzero(keep)
            parts.append((rows[r], items[top[keep]], rank))
    if not parts:
        return tuple(np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.int64, float))
    s, i, rank = (np.concatenate(p) for p in zip(*parts, strict=True))
    order = np.lexsort((rank, s))
    s, i, rank = s[order], i[order], rank[order]
    u = sess.user[s]
    util = (
        np.einsum("nk,nk->n", cust.taste[u], cat.factors[i])
        + cat.quality[i]
        - cust.price_sensitivity[u] * cat.rel_price[i]
    )
    return s, i, rank, util


def browse(
    cfg: SimConfig,
    rng: np.random.Generator,
    cal: Calendar,
    cat: Catalogue,
    cust: Customers,
    paths: PricePaths,
) -> Browsing:
    """Sessions -> views -> carts -> purchases -> orders (see the model in the package docstring)."""
    sess = draw_sessions(cfg, rng, cal, cat, cust)
    v_s, v_i, v_rank, util = _views(cfg, rng, cat, cust, sess)
    n = v_s.size
    day = sess.day[v_s]
    price = paths.price[v_i, day]
    ratio = price / cat.base_price[v_i]
    price_factor = ratio ** (cat.elasticity[v_i] / 2.0)  # half at the cart, half at the checkout
    cart0 = cfg.view_to_cart * expit(ALPHA_CART + util)
    buy0 = cfg.cart_to_purchase * expit(ALPHA_BUY + BUY_UTILITY * util)
    cart = rng.random(n) < np.minimum(1.0, cart0 * price_factor)
    buy = cart & (rng.random(n) < np.minimum(1.0, buy0 * price_factor))
    quantity = (1 + rng.poisson(EXTRA_QUANTITY, n)).astype(float)
    base_demand = (
        np.bincount(v_i, weights=cart0 * buy0, minlength=cat.n) * (1 + EXTRA_QUANTITY) / cfg.days
    )

    # times: views follow each other, a cart follows its view, checkout follows the last action
    gaps = rng.exponential(VIEW_GAP, n)
    starts = group_starts(v_s)
    view_sec = (
        sess.start[v_s]
        + np.cumsum(gaps)
        - np.repeat(np.cumsum(gaps)[starts] - gaps[starts], np.diff(np.r_[starts, n]))
    )
    cart_sec = view_sec + rng.exponential(CART_DELAY, n)
    last = np.full(sess.user.size, np.nan)
    if n:
        last[v_s[starts]] = np.maximum.reduceat(np.where(cart, cart_sec, view_sec), starts)
    checkout = last + rng.exponential(CHECKOUT_DELAY, sess.user.size)
    removed = cart & ~buy & (rng.random(n) < REMOVE_SHARE)

    # a search opens some sessions; its words are those of the item then viewed first
    searched = np.flatnonzero(rng.random(sess.user.size) < cfg.search_share)
    first_item = np.full(sess.user.size, -1)
    first_item[v_s[starts]] = v_i[starts]
    searched = searched[first_item[searched] >= 0]
    fi = first_item[searched]
    noun = cat.noun[fi].astype(object)
    synonym = np.array([NOUN_SYNONYMS.get(w) for w in cat.noun], dtype=object)[fi]
    use_synonym = (rng.random(searched.size) < SYNONYM_SHARE) & synonym.astype(bool)
    noun[use_synonym] = synonym[use_synonym]
    query = fill(
        QUERY_TEMPLATES,
        rng.integers(0, len(QUERY_TEMPLATES), searched.size),
        {
            "noun": noun,
            "adjective": cat.adjective[fi],
            "material": cat.material[fi],
            "brand": np.char.lower(cat.brand[fi].astype(str)).astype(object),
            "color": cat.color[fi],
        },
    )
    query = misspell(rng, query, TYPO_SHARE)

    b = np.flatnonzero(buy)
    events = (
        Events.make(searched, -1, sess.start[searched], SEARCH, query=query)
        .concat(Events.make(v_s, v_i, view_sec, VIEW, price=price))
        .concat(
            Events.make(v_s[cart], v_i[cart], cart_sec[cart], CART, quantity[cart], price[cart])
        )
        .concat(
            Events.make(
                v_s[removed],
                v_i[removed],
                cart_sec[removed] + rng.exponential(REMOVE_DELAY, int(removed.sum())),
                REMOVE,
                quantity[removed],
                price[removed],
            )
        )
        .concat(Events.make(v_s[b], v_i[b], checkout[v_s[b]], PURCHASE, quantity[b], price[b]))
    )
    orders, lines = _orders(
        cfg, rng, cat, cust, sess, v_s[b], v_i[b], quantity[b], price[b], ratio[b], checkout
    )
    # drawn last, so every draw above is what it was without drop-out
    p_u, gone = _dropout(rng, cust, orders, lines)
    keep = sess.start <= gone[sess.user]  # a customer who left makes no more visits
    kept_views = keep[v_s]
    base_demand = (
        np.bincount(v_i[kept_views], weights=(cart0 * buy0)[kept_views], minlength=cat.n)
        * (1 + EXTRA_QUANTITY)
        / cfg.days
    )
    sess, events, orders, lines = _keep_sessions(keep, sess, events, orders, lines)
    return Browsing(sess, events, orders, lines, base_demand, int(kept_views.sum()), p_u, gone)


def misspell(rng: np.random.Generator, texts: np.ndarray, share: float) -> np.ndarray:
    """A share of ``texts`` with one typo: a letter dropped or two neighbouring letters swapped
    (never the first letter, never a space), vectorised over code-point arrays."""
    texts = np.asarray(texts, dtype=object)
    rows = np.flatnonzero(rng.random(texts.size) < share)
    if not rows.size:
        return texts
    u = texts[rows].astype(str)
    width = max(int(np.char.str_len(u).max()), 1)
    cp = u.astype(f"U{width}").view(np.uint32).reshape(rows.size, width).copy()
    length = np.char.str_len(u)
    ok = length >= 4
    pos = 1 + (rng.random(rows.size) * np.maximum(length - 2, 1)).astype(np.int64)
    pos = np.minimum(pos, np.maximum(length - 2, 1))
    r = np.arange(rows.size)
    letters = (cp[r, pos] != ord(" ")) & (cp[r, np.minimum(pos + 1, width - 1)] != ord(" "))
    ok &= letters
    swap = rng.random(rows.size) < 0.5
    cols = np.broadcast_to(np.arange(width), cp.shape).copy()
    # swap: exchange pos and pos + 1; drop: shift everything after pos one place left
    s_rows = ok & swap
    cols[s_rows, pos[s_rows]] = pos[s_rows] + 1
    cols[s_rows, pos[s_rows] + 1] = pos[s_rows]
    d_rows = ok & ~swap
    after = cols >= pos[:, None]
    shift = d_rows[:, None] & after
    cols = np.where(shift, np.minimum(cols + 1, width), cols)
    padded = np.concatenate([cp, np.zeros((rows.size, 1), np.uint32)], axis=1)
    out = np.take_along_axis(padded, cols, axis=1)
    typed = np.ascontiguousarray(out).view(f"U{width}").ravel()
    result = texts.copy()
    result[rows] = np.where(ok, typed, u).astype(object)
    return result


def _dropout(
    rng: np.random.Generator, cust: Customers, orders: Orders, lines: Lines
) -> tuple[np.ndarray, np.ndarray]:
    """Per customer: the drop-out probability p_u and when they leave (inf if they stay).

    After each order the customer leaves with probability ``1 - (1 - p_u)(1 - 0.32 bad)``,
    ``bad`` = the order's least satisfying line has satisfaction z-score below -1.
    """
    p_u = rng.beta(DROPOUT_A, DROPOUT_B, cust.n)
    n_orders = orders.sec.size
    sat = lines.satisfaction
    z = (sat - np.nanmean(sat)) / (np.nanstd(sat) or 1.0) if sat.size else sat
    worst = np.full(n_orders, np.inf)
    np.minimum.at(worst, lines.order, np.nan_to_num(z, nan=np.inf))
    bad = (worst < BAD_EXPERIENCE_Z) & ~orders.cancelled  # a cancelled order delivers nothing
    p = 1.0 - (1.0 - p_u[orders.user]) * np.where(bad, 1.0 - BAD_EXPERIENCE_DROPOUT, 1.0)
    leave = rng.random(n_orders) < p
    gone = np.full(cust.n, np.inf)
    np.minimum.at(gone, orders.user[leave], orders.sec[leave])
    return p_u, gone


def _keep_sessions(
    keep: np.ndarray, sess: Sessions, events: Events, orders: Orders, lines: Lines
) -> tuple[Sessions, Events, Orders, Lines]:
    """The records of the kept sessions, with session and order indices renumbered."""
    new_s = np.cumsum(keep) - 1
    ke = keep[events.session]
    ko = keep[orders.session]
    kl = ko[lines.order]
    new_o = np.cumsum(ko) - 1

    def take(rec, mask, **renumbered):  # type: ignore[no-untyped-def]
        return type(rec)(
            **{f.name: renumbered.get(f.name, getattr(rec, f.name)[mask]) for f in fields(rec)}
        )

    return (
        take(sess, keep),
        take(events, ke, session=new_s[events.session[ke]]),
        take(orders, ko, session=new_s[orders.session[ko]]),
        take(lines, kl, order=new_o[lines.order[kl]]),
    )


def _orders(
    cfg: SimConfig,
    rng: np.random.Generator,
    cat: Catalogue,
    cust: Customers,
    sess: Sessions,
    s: np.ndarray,
    item: np.ndarray,
    quantity: np.ndarray,
    price: np.ndarray,
    ratio: np.ndarray,
    checkout: np.ndarray,
) -> tuple[Orders, Lines]:
    """One order per session with a purchase; lines in the order the items were viewed."""
    o_sess = s[group_starts(s)]
    n_orders = o_sess.size
    user = sess.user[o_sess]
    ship = cust.country[user]
    foreign = rng.random(n_orders) < FOREIGN_IP_SHARE
    ip = np.where(foreign, rng.integers(0, len(COUNTRIES), n_orders), ship)
    orders = Orders(
        session=o_sess,
        user=user,
        sec=checkout[o_sess],
        checkout_seconds=checkout[o_sess] - sess.start[o_sess],
        fraud=np.zeros(n_orders, dtype=bool),
        device=cust.device_num[user],
        payment=rng.choice(len(PAYMENTS), size=n_orders, p=PAYMENT_WEIGHTS),
        ip_country=ip,
        ship_country=ship,
        cancelled=rng.random(n_orders) < cfg.cancel_rate,
    )
    u = sess.user[s]
    # what the customer finds once the goods arrive: the defect shows, the price feels fair or not
    match = np.einsum("ij,ij->i", cust.taste[u], cat.factors[item])
    satisfaction = (
        match
        + cat.quality[item]
        + cat.defect[item]
        - PRICE_FAIRNESS * np.log(ratio)
        + SATISFACTION_NOISE * rng.normal(size=s.size)
    )
    lines = Lines(
        order=np.searchsorted(o_sess, s),
        line=group_rank(s) + 1,
        item=item,
        quantity=quantity,
        unit_price=price,
        satisfaction=satisfaction,
    )
    return orders, lines
