"""What follows an order: returns, reviews and support messages, all driven by satisfaction."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, logit

from shopml.data.synth.calendar import DAY, Calendar
from shopml.data.synth.catalogue import Catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.records import Lines, Orders, group_starts
from shopml.data.synth.strings import fill
from shopml.data.synth.words import (
    DELIVERY_SENTENCES,
    REVIEW_SENTENCES,
    REVIEW_TITLES,
    SUPPORT_INTENTS,
)

RETURN_SLOPE = 1.2  # logit(return) = logit(category base rate) - this * z(satisfaction)
STAR_SHARES = (0.08, 0.07, 0.12, 0.27, 0.46)  # stars 1..5 over all delivered lines
EXTREMITY, RETURNED_BOOST = 0.8, 0.7  # the very (dis)satisfied and returners review more
REVIEW_DELAY = 6.0  # days: review written 1 + Exponential(this) days after the order
DELIVERY_MENTION = 0.4
INTENTS = tuple(SUPPORT_INTENTS)


def _delivered(orders: Orders, lines: Lines) -> np.ndarray:
    return ~orders.fraud[lines.order] & ~orders.cancelled[lines.order]


def _z(x: np.ndarray, mask: np.ndarray) -> np.ndarray:
    ref = x[mask]
    if ref.size < 2:
        return np.zeros_like(x)
    return (x - ref.mean()) / max(float(ref.std()), 1e-9)


def make_returns(
    rng: np.random.Generator, cat: Catalogue, orders: Orders, lines: Lines
) -> np.ndarray:
    """Per line: returned? Less satisfied customers return more; categories differ in base rate."""
    ok = _delivered(orders, lines)
    z = np.nan_to_num(_z(lines.satisfaction, ok))
    base = cat.cat_return_rate[cat.category[lines.item]]
    return ok & (rng.random(lines.item.size) < expit(logit(base) - RETURN_SLOPE * z))


@dataclass(frozen=True)
class Reviews:
    line: np.ndarray  # index into lines
    sec: np.ndarray
    rating: np.ndarray
    sentiment: np.ndarray  # satisfaction on a continuous star scale mapped to [-1, 1]
    title: np.ndarray
    text: np.ndarray
    satisfaction: np.ndarray


def make_reviews(
    cfg: SimConfig,
    rng: np.random.Generator,
    cal: Calendar,
    cat: Catalogue,
    orders: Orders,
    lines: Lines,
    returned: np.ndarray,
) -> Reviews:
    """Stars are satisfaction cut at fixed quantiles; the text is written from the stars' phrases."""
    ok = _delivered(orders, lines)
    z = np.nan_to_num(_z(lines.satisfaction, ok))
    sat = lines.satisfaction
    cuts = np.quantile(sat[ok], np.cumsum(STAR_SHARES)[:-1]) if ok.any() else np.zeros(4)
    with np.errstate(divide="ignore"):
        p = expit(
            logit(cfg.review_rate) + EXTREMITY * (np.abs(z) - 0.8) + RETURNED_BOOST * returned
        )
    chosen = np.flatnonzero(ok & (rng.random(sat.size) < p))
    sec = orders.sec[lines.order[chosen]] + (1.0 + rng.exponential(REVIEW_DELAY, chosen.size)) * DAY
    keep = sec < cal.end_sec  # reviews not yet written when the data ends
    chosen, sec = chosen[keep], sec[keep]
    rating = 1 + np.searchsorted(cuts, sat[chosen])
    n = chosen.size
    per = len(REVIEW_SENTENCES[0])
    first = rng.integers(0, per, n)
    second = (first + 1 + rng.integers(0, per - 1, n)) % per  # a different sentence
    sentences = tuple(s for star in REVIEW_SENTENCES for s in star)
    slots = {"noun": cat.noun[lines.item[chosen]], "material": cat.material[lines.item[chosen]]}
    s1 = fill(sentences, (rating - 1) * per + first, slots)
    s2 = fill(sentences, (rating - 1) * per + second, slots)
    delivery = np.asarray([d for group in DELIVERY_SENTENCES for d in group], dtype=object)[
        (rating >= 3) * len(DELIVERY_SENTENCES[0]) + rng.integers(0, len(DELIVERY_SENTENCES[0]), n)
    ]
    mention = rng.random(n) < DELIVERY_MENTION
    text = s1 + " " + s2 + np.where(mention, " " + delivery, "").astype(object)
    titles = np.asarray([t for star in REVIEW_TITLES for t in star], dtype=object)
    title = titles[(rating - 1) * len(REVIEW_TITLES[0]) + rng.integers(0, len(REVIEW_TITLES[0]), n)]
    return Reviews(
        chosen,
        sec,
        rating.astype(float),
        np.round(_sentiment(sat[chosen], sat[ok], cuts), 3),
        title,
        text,
        sat[chosen],
    )


def _sentiment(s: np.ndarray, ref: np.ndarray, cuts: np.ndarray) -> np.ndarray:
    """Satisfaction on a continuous star scale (star cut points at 1.5 .. 4.5), mapped to [-1, 1]."""
    if ref.size < 2:
        return np.zeros_like(s)
    lo, hi = np.quantile(ref, [0.005, 0.995])
    xs = np.concatenate([[min(lo, cuts[0])], cuts, [max(hi, cuts[-1])]])
    stars = np.interp(s, np.maximum.accumulate(xs), [1.0, 1.5, 2.5, 3.5, 4.5, 5.0])
    return (stars - 3.0) / 2.0


@dataclass(frozen=True)
class Support:
    order: np.ndarray
    line: np.ndarray  # the line the message is about (the order's first for order-level ones)
    intent: np.ndarray  # index into INTENTS
    template: np.ndarray  # which of the intent's texts
    sec: np.ndarray


def make_support(
    cfg: SimConfig,
    rng: np.random.Generator,
    cal: Calendar,
    orders: Orders,
    lines: Lines,
    returned: np.ndarray,
) -> Support:
    """Customer-service messages whose intent follows what happened to the order."""
    n_orders = orders.sec.size
    starts = group_starts(lines.order)
    first_line = np.zeros(n_orders, dtype=np.int64)
    first_line[lines.order[starts]] = starts
    honest = ~orders.fraud
    r = cfg.support_rate
    # (intent, order mask, line mask, min delay days, mean extra delay days)
    rules = (
        ("cancel_order", honest & orders.cancelled & (rng.random(n_orders) < 0.6), None, 0.0, 0.08),
        ("track_order", honest & ~orders.cancelled & (rng.random(n_orders) < r), None, 2.0, 3.0),
        ("payment_issue", honest & (rng.random(n_orders) < r / 4), None, 0.0, 0.12),
        ("return_item", None, returned & (rng.random(lines.item.size) < 0.4), 3.0, 4.0),
        ("refund_status", None, returned & (rng.random(lines.item.size) < 0.12), 14.0, 5.0),
    )
    parts = []
    for intent, order_mask, line_mask, delay, extra in rules:  # a loop over five intents
        if order_mask is not None:
            o = np.flatnonzero(order_mask)
            ln = first_line[o]
        else:
            ln = np.flatnonzero(line_mask)
            o = lines.order[ln]
        sec = orders.sec[o] + (delay + rng.exponential(extra, o.size)) * DAY
        k = INTENTS.index(intent)
        tpl = rng.integers(0, len(SUPPORT_INTENTS[intent][1]), o.size)
        parts.append((o, ln, np.full(o.size, k), tpl, sec))
    o, ln, k, tpl, sec = (np.concatenate(p) for p in zip(*parts, strict=True))
    keep = sec < cal.end_sec
    order = np.argsort(sec[keep], kind="stable")
    return Support(*(a[keep][order] for a in (o, ln, k, tpl, sec)))


def support_text(sup: Support, order_ids: np.ndarray, noun: np.ndarray) -> tuple[np.ndarray, ...]:
    """(text, intent, category, answer) columns of the support messages."""
    n = sup.order.size
    text = np.empty(n, dtype=object)
    answer = np.empty(n, dtype=object)
    category = np.empty(n, dtype=object)
    slots = {"order": order_ids[sup.order], "noun": noun}
    for k, (cat_name, texts, ans) in enumerate(SUPPORT_INTENTS.values()):
        rows = np.flatnonzero(sup.intent == k)
        sub = {key: v[rows] for key, v in slots.items()}
        text[rows] = fill(texts, sup.template[rows], sub)
        answer[rows] = fill((ans,), np.zeros(rows.size, dtype=np.int64), sub)
        category[rows] = cat_name
    return text, np.asarray(INTENTS, dtype=object)[sup.intent], category, answer
