"""Logged recommendation slates: a stochastic logging policy with exact propensities and a
position-based click model with known relevance."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit, softmax

from shopml.data.synth.catalogue import Catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.customers import Customers
from shopml.data.synth.pricing import PricePaths
from shopml.data.synth.records import CLICK, Events, Sessions, gumbel

ESTIMATE_NOISE = 0.5  # the shop's popularity estimate: true quality + this * N(0, 1) per item
SCORE_NOISE = 0.5  # per-decision noise of the logging policy's scores
ALPHA_CLICK = -3.5  # attraction = sigmoid(ALPHA_CLICK + theta_u . phi_a + q_a)
CLICK_DELAY = 10.0  # mean seconds from the slate to a click
CHUNK = 1 << 22
POLICY, CAMPAIGN = "softmax_epsilon", "home_recommendations"


@dataclass(frozen=True)
class Impressions:
    """One row per shown item; per-decision arrays describe the logging policy exactly."""

    decision: np.ndarray  # per row
    position: np.ndarray  # 1-based
    item: np.ndarray
    propensity: np.ndarray  # P(this item at this position | items above it, context)
    click: np.ndarray
    true_ctr: np.ndarray  # examination(position) * attraction(user, item)
    session: np.ndarray  # per decision
    candidates: np.ndarray  # (decisions, n_candidates) item indices, -1 padded
    probs: np.ndarray  # (decisions, n_candidates) pi(a | x), 0 padded; rows sum to 1
    examination: np.ndarray  # (slate_size,) examination probability per position


def log_impressions(
    cfg: SimConfig,
    rng: np.random.Generator,
    cat: Catalogue,
    cust: Customers,
    sess: Sessions,
    paths: PricePaths,
) -> tuple[Impressions, Events]:
    """Slates shown at the start of a share of honest sessions, and the clicks they got."""
    est_quality = cat.quality + ESTIMATE_NOISE * rng.normal(size=cat.n)
    dec_session = np.flatnonzero(~sess.fraud & (rng.random(sess.user.size) < cfg.impression_share))
    n_dec, n_cand = dec_session.size, cfg.n_candidates
    candidates = np.full((n_dec, n_cand), -1, dtype=np.int64)
    probs = np.zeros((n_dec, n_cand))
    examination = np.arange(1, cfg.slate_size + 1, dtype=float) ** -cfg.examination_decay
    parts = []
    dec_cat = sess.category[dec_session]
    for c in range(cat.cat_names.size):  # a loop over categories, vectorised within
        d_all = np.flatnonzero(dec_cat == c)
        if not d_all.size:
            continue
        items = np.flatnonzero(cat.category == c)
        m = min(n_cand, items.size)
        slate = min(cfg.slate_size, m)
        step = max(1, CHUNK // items.size)
        for s0 in range(0, d_all.size, step):
            d = d_all[s0 : s0 + step]
            # candidates: the category's popular items, with some churn between requests
            z = est_quality[items][None, :] + gumbel(rng, (d.size, items.size))
            top = (
                np.argpartition(-z, m - 1, axis=1)[:, :m]
                if m < items.size
                else (np.broadcast_to(np.arange(m), (d.size, m)))
            )
            cand = items[top]
            score = est_quality[cand] + SCORE_NOISE * rng.normal(size=cand.shape)
            pi = (1.0 - cfg.epsilon) * softmax(score / cfg.temperature, axis=1) + cfg.epsilon / m
            candidates[d, :m] = cand
            probs[d, :m] = pi
            # Plackett-Luce: top-k of log pi + Gumbel is a draw without replacement in proportion to pi
            order = np.argsort(-(np.log(pi) + gumbel(rng, pi.shape)), axis=1)
            p_sorted = np.take_along_axis(pi, order, 1)
            # mass of the items not placed above, summed from the tail (no 1 - cumsum cancellation)
            left = np.cumsum(p_sorted[:, ::-1], axis=1)[:, ::-1][:, :slate]
            order, p_shown = order[:, :slate], p_sorted[:, :slate]
            shown = np.take_along_axis(cand, order, 1)
            propensity = np.minimum(p_shown / left, 1.0)
            u = sess.user[dec_session[d]]
            attraction = expit(
                ALPHA_CLICK
                + np.einsum("dk,dsk->ds", cust.taste[u], cat.factors[shown])
                + cat.quality[shown]
            )
            true_ctr = examination[None, :slate] * attraction
            pos = np.broadcast_to(np.arange(1, slate + 1), shown.shape)
            parts.append(
                (
                    np.repeat(d, slate),
                    pos.ravel(),
                    shown.ravel(),
                    propensity.ravel(),
                    true_ctr.ravel(),
                )
            )
    if parts:
        dec, pos, item, prop, ctr = (np.concatenate(p) for p in zip(*parts, strict=True))
    else:
        dec, pos, item, prop, ctr = (
            np.zeros(0, dtype=t) for t in (np.int64, np.int64, np.int64, float, float)
        )
    order = np.lexsort((pos, dec))
    dec, pos, item, prop, ctr = dec[order], pos[order], item[order], prop[order], ctr[order]
    click = rng.random(dec.size) < ctr
    s = dec_session[dec[click]]
    clicks = Events.make(
        s,
        item[click],
        sess.start[s] + rng.exponential(CLICK_DELAY, s.size),
        CLICK,
        price=paths.price[item[click], sess.day[s]],
    )
    return Impressions(
        dec,
        pos.astype(np.int32),
        item,
        prop,
        click,
        ctr,
        dec_session,
        candidates,
        probs,
        examination,
    ), clicks
