"""Turn the simulator's arrays into the canonical tables and the truth object.

String ids are given here, numbered in time order (users by sign-up, sessions by start, orders
by checkout, events by time), so no id reveals how a row was generated.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopml.data.synth.aftersales import Reviews, Support, support_text
from shopml.data.synth.calendar import DAY, Calendar
from shopml.data.synth.catalogue import Catalogue, items_frame
from shopml.data.synth.config import SimConfig
from shopml.data.synth.customers import Customers, user_ids, users_frame
from shopml.data.synth.impressions import CAMPAIGN, POLICY, Impressions
from shopml.data.synth.pricing import PricePaths, prices_frame
from shopml.data.synth.records import EVENT_NAMES, Events, Lines, Orders, Sessions
from shopml.data.synth.result import SimTruth
from shopml.data.synth.strings import boolean, ids, json_objects, num
from shopml.data.synth.words import AGE_BANDS, COUNTRIES, DEVICES, PAYMENTS


@dataclass(frozen=True)
class World:
    """Everything simulated, as arrays over internal indices."""

    cfg: SimConfig
    cal: Calendar
    cat: Catalogue
    users: Customers
    paths: PricePaths
    sessions: Sessions
    events: Events
    orders: Orders
    lines: Lines
    returned: np.ndarray
    impressions: Impressions
    reviews: Reviews
    support: Support
    base_demand: np.ndarray
    dropout_prob: np.ndarray | None = None  # per honest customer (see sessions._dropout)
    dropout_sec: np.ndarray | None = None


def _time_ids(prefix: str, sec: np.ndarray, width: int) -> np.ndarray:
    """Ids numbered by time: ``ids[j]`` is the id of element ``j``."""
    rank = np.empty(sec.size, dtype=np.int64)
    rank[np.argsort(sec, kind="stable")] = np.arange(sec.size)
    return ids(prefix, rank, width)


def _with_null(values: np.ndarray, null: np.ndarray) -> np.ndarray:
    out = np.asarray(values, dtype=object).copy()
    out[null] = None
    return out


def build(w: World, rng: np.random.Generator) -> tuple[dict[str, pd.DataFrame], SimTruth]:
    """All canonical tables of the simulated shop and its :class:`SimTruth`."""
    cfg, cal, cat, users = w.cfg, w.cal, w.cat, w.users
    uid = user_ids(users)
    sid = _time_ids("s", w.sessions.start, 8)
    oid = _time_ids("o", w.orders.sec, 8)
    n_devices = int(max(users.device_num.max(initial=0), w.orders.device.max(initial=0))) + 1
    device_ids = ids("dev", rng.permutation(n_devices), 7)  # numbering tells nothing about owners

    ev = w.events
    eo = np.argsort(ev.sec, kind="stable")
    item = ev.item[eo]
    events = pd.DataFrame(
        {
            "event_id": ids("e", eo.size, 9),
            "user_id": uid[w.sessions.user[ev.session[eo]]],
            "session_id": sid[ev.session[eo]],
            "item_id": _with_null(cat.ids[np.maximum(item, 0)], item < 0),
            "ts": cal.timestamps(ev.sec[eo]),
            "event_type": EVENT_NAMES[ev.kind[eo]],
            "quantity": ev.quantity[eo],
            "price": ev.price[eo],
            "query": ev.query[eo],
            "attributes": None,
        }
    )

    od, ln = w.orders, w.lines
    order_rank = np.argsort(np.argsort(od.sec, kind="stable"), kind="stable")
    lo = np.lexsort((ln.line, order_rank[ln.order]))
    o = ln.order[lo]
    countries = np.asarray(COUNTRIES, dtype=object)
    order_attrs = json_objects(
        {
            "device_id": (device_ids[od.device], True),
            "payment": (np.asarray(PAYMENTS, dtype=object)[od.payment], True),
            "ip_country": (countries[od.ip_country], True),
            "ship_country": (countries[od.ship_country], True),
            "checkout_seconds": (num(np.round(od.checkout_seconds).astype(np.int64)), False),
        }
    )
    status = np.where(
        od.cancelled[ln.order], "cancelled", np.where(w.returned, "returned", "completed")
    )
    orders = pd.DataFrame(
        {
            "order_id": oid[o],
            "line": ln.line[lo].astype(np.int32),
            "user_id": uid[od.user[o]],
            "ts": cal.timestamps(od.sec[o]),
            "item_id": cat.ids[ln.item[lo]],
            "quantity": ln.quantity[lo],
            "unit_price": ln.unit_price[lo],
            "currency": cfg.currency,
            "status": status[lo].astype(object),
            "attributes": order_attrs[o],
        }
    )

    rv = w.reviews
    rl = rv.line
    review_ids = ids("r", rl.size, 8)  # reviews come in time order from the simulator
    ro = np.argsort(rv.sec, kind="stable")
    reviews = pd.DataFrame(
        {
            "review_id": review_ids,
            "user_id": uid[od.user[ln.order[rl[ro]]]],
            "item_id": cat.ids[ln.item[rl[ro]]],
            "ts": cal.timestamps(rv.sec[ro]),
            "rating": rv.rating[ro],
            "sentiment": rv.sentiment[ro],
            "title": rv.title[ro],
            "text": rv.text[ro],
            "attributes": json_objects(
                {
                    "order_id": (oid[ln.order[rl[ro]]], True),
                    "verified_purchase": (boolean(np.ones(rl.size)), False),
                }
            ),
        }
    )

    sp = w.support
    text, intent, category, answer = support_text(sp, oid, cat.noun[ln.item[sp.line]])
    support = pd.DataFrame(
        {
            "message_id": ids("m", sp.order.size, 8),
            "user_id": uid[od.user[sp.order]],
            "ts": cal.timestamps(sp.sec),
            "text": text,
            "intent": intent,
            "category": category,
            "answer": answer,
            "attributes": json_objects({"order_id": (oid[sp.order], True)}),
        }
    )

    im = w.impressions
    d_sess = im.session
    d_user = w.sessions.user[d_sess]
    d_start = w.sessions.start[d_sess]
    decision_ids = ids("dec", d_sess.size, 8)
    context = json_objects(
        {
            "decision_id": (decision_ids, True),
            "session_id": (sid[d_sess], True),
            "country": (countries[users.country[d_user]], True),
            "device": (np.asarray(DEVICES, dtype=object)[users.device[d_user]], True),
            "age_band": (np.asarray(AGE_BANDS, dtype=object)[users.age_band[d_user]], True),
            "tenure_days": (
                num(np.floor((d_start - users.signup_sec[d_user]) / DAY).astype(np.int64)),
                False,
            ),
            "hour": (num((d_start % DAY // 3600).astype(np.int64)), False),
            "dow": (num(cal.dow[w.sessions.day[d_sess]]), False),
            "category": (cat.cat_names[w.sessions.category[d_sess]], True),
        }
    )
    impressions = pd.DataFrame(
        {
            "impression_id": ids("imp", im.decision.size, 9),
            "ts": cal.timestamps(d_start[im.decision]),
            "user_id": uid[d_user[im.decision]],
            "context": context[im.decision],
            "action": cat.ids[im.item],
            "position": im.position.astype(np.int32),
            "reward": im.click.astype(float),
            "propensity": im.propensity,
            "policy": POLICY,
            "campaign": CAMPAIGN,
        }
    )

    labels = _labels(w, uid, oid, impressions)
    tables = {
        "items": items_frame(cat, cfg),
        "users": users_frame(users, uid, cal),
        "prices": prices_frame(w.paths, cat, cal, cfg),
        "events": events,
        "orders": orders,
        "reviews": reviews,
        "support_messages": support,
        "impressions": impressions,
        "labels": labels,
    }
    order_by_time = np.argsort(od.sec, kind="stable")
    cand = np.where(im.candidates >= 0, cat.ids[np.maximum(im.candidates, 0)], "").astype(str)
    truth = SimTruth(
        config_json=json.dumps(cfg.as_dict()),
        item_id=cat.ids.astype(str),
        item_category=cat.cat_names[cat.category].astype(str),
        elasticity=cat.elasticity,
        base_price=cat.base_price,
        base_demand=w.base_demand,
        cost=cat.cost,
        quality=cat.quality,
        defect=cat.defect,
        item_factors=cat.factors,
        category_names=cat.cat_names.astype(str),
        category_factors=cat.cat_factors,
        user_id=uid.astype(str),
        user_fraud=users.fraud,
        taste=users.taste,
        price_sensitivity=users.price_sensitivity,
        activity=users.activity,
        day=cal.start + np.arange(cfg.days).astype("timedelta64[D]"),
        season=cal.season,
        weekly=cal.weekly,
        examination=im.examination,
        decision_id=decision_ids.astype(str),
        decision_session_id=sid[d_sess].astype(str),
        candidates=cand,
        candidate_probs=im.probs,
        order_id=oid[order_by_time].astype(str),
        order_fraud=od.fraud[order_by_time],
        review_id=review_ids.astype(str),
        review_satisfaction=rv.satisfaction[ro],
        **_dropout_truth(w, users.signup_sec.size),
    )
    return tables, truth


def _dropout_truth(w: World, n_users: int) -> dict[str, np.ndarray]:
    """Drop-out per user; fraud accounts (after the honest customers) never buy to stay."""
    if w.dropout_prob is None or w.dropout_sec is None:
        return {}
    prob, sec = np.zeros(n_users), np.full(n_users, np.inf)
    prob[: w.dropout_prob.size] = w.dropout_prob
    sec[: w.dropout_sec.size] = w.dropout_sec
    return {"dropout_prob": prob, "dropout_sec": sec}


def _labels(w: World, uid: np.ndarray, oid: np.ndarray, impressions: pd.DataFrame) -> pd.DataFrame:
    """Ground truth that fits ``labels``: fraud per order and user, true CTR, item economics."""
    cat, od = w.cat, w.orders

    def block(
        entity: str,
        entity_id: np.ndarray,
        name: str,
        value: np.ndarray,
        ts: pd.Series | None = None,
    ) -> pd.DataFrame:
        n = len(entity_id)
        ts = (
            pd.Series(pd.NaT, index=range(n), dtype="datetime64[ns, UTC]")
            if ts is None
            else ts.reset_index(drop=True)
        )
        return pd.DataFrame(
            {
                "entity": entity,
                "entity_id": entity_id,
                "name": name,
                "value": np.asarray(value, dtype=float),
                "ts": ts,
            }
        )

    order_by_time = np.argsort(od.sec, kind="stable")
    frames = [
        block(
            "order",
            oid[order_by_time],
            "fraud",
            od.fraud[order_by_time],
            w.cal.timestamps(od.sec[order_by_time]),
        ),
        block("user", uid, "fraud", w.users.fraud),
        block(
            "impression",
            impressions["impression_id"].to_numpy(),
            "true_ctr",
            w.impressions.true_ctr,
            impressions["ts"],
        ),
        block("item", cat.ids, "elasticity", cat.elasticity),
        block("item", cat.ids, "base_demand", w.base_demand),
        block("item", cat.ids, "quality", cat.quality),
    ]
    return pd.concat(frames, ignore_index=True)
