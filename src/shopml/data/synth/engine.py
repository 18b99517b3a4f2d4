"""Run the whole simulation: one independent random stream per component, then the tables."""

from __future__ import annotations

import time
from dataclasses import replace

import numpy as np

from shopml.data.synth.aftersales import make_returns, make_reviews, make_support
from shopml.data.synth.calendar import make_calendar
from shopml.data.synth.catalogue import make_catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.customers import make_customers
from shopml.data.synth.fraud import make_fraud
from shopml.data.synth.impressions import log_impressions
from shopml.data.synth.pricing import make_prices
from shopml.data.synth.result import SimResult
from shopml.data.synth.sessions import browse
from shopml.data.synth.tables import World, build

STREAMS = (
    "catalogue",
    "customers",
    "prices",
    "browsing",
    "impressions",
    "fraud",
    "returns",
    "reviews",
    "support",
    "ids",
)


def simulate(config: SimConfig | None = None, **overrides: object) -> SimResult:
    """Simulate a shop; the same config (seed included) gives identical tables.

    ``overrides`` replace fields of ``config`` (or of the default config):
    ``simulate(n_users=1000, seed=3)``.
    """
    cfg = config if config is not None else SimConfig()
    if overrides:
        cfg = replace(cfg, **overrides)  # type: ignore[arg-type]
    cfg.validate()
    t0 = time.perf_counter()
    # a stream per component: changing how one part draws leaves the others' draws unchanged
    rng = dict(
        zip(
            STREAMS,
            (
                np.random.default_rng(s)
                for s in np.random.SeedSequence(cfg.seed).spawn(len(STREAMS))
            ),
            strict=True,
        )
    )
    cal = make_calendar(cfg)
    cat = make_catalogue(cfg, rng["catalogue"])
    honest_users = make_customers(cfg, rng["customers"], cal)
    paths = make_prices(cfg, rng["prices"], cat)
    honest = browse(cfg, rng["browsing"], cal, cat, honest_users, paths)
    impressions, clicks = log_impressions(
        cfg, rng["impressions"], cat, honest_users, honest.sessions, paths
    )
    n_honest_orders = honest.orders.sec.size
    fraud = make_fraud(
        cfg,
        rng["fraud"],
        cat,
        paths,
        cal,
        n_users=honest_users.n,
        n_sessions=honest.sessions.user.size,
        n_devices=honest_users.n,
        n_honest_orders=n_honest_orders,
    )
    orders = honest.orders.concat(fraud.orders)
    lines = honest.lines.concat(replace(fraud.lines, order=fraud.lines.order + n_honest_orders))
    returned = make_returns(rng["returns"], cat, orders, lines)
    world = World(
        cfg=cfg,
        cal=cal,
        cat=cat,
        users=honest_users.concat(fraud.accounts),
        paths=paths,
        sessions=honest.sessions.concat(fraud.sessions),
        events=honest.events.concat(clicks).concat(fraud.events),
        orders=orders,
        lines=lines,
        returned=returned,
        impressions=impressions,
        reviews=make_reviews(cfg, rng["reviews"], cal, cat, orders, lines, returned),
        support=make_support(cfg, rng["support"], cal, orders, lines, returned),
        base_demand=honest.base_demand,
        dropout_prob=honest.dropout_prob,
        dropout_sec=honest.dropout_sec,
    )
    tables, truth = build(world, rng["ids"])
    return SimResult(config=cfg, truth=truth, seconds=time.perf_counter() - t0, **tables)
