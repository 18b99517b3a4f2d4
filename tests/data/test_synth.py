"""The shop simulator: deterministic, canonical, and its ground truth is really in its data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import DataError, ValidationError
from shopml.data import Workspace
from shopml.data.schema import EVENT_TYPES, ORDER_STATUSES, TABLES
from shopml.data.synth import SimConfig, SimResult, load_truth, simulate
from shopml.data.synth.result import TABLE_ORDER

SMALL = SimConfig(n_users=4000, n_items=200, n_categories=6, days=120, fraud_rate=0.05, seed=11)


@pytest.fixture(scope="module")
def shop() -> SimResult:
    return simulate(SMALL)


@pytest.fixture(scope="module")
def order_frame(shop: SimResult) -> pd.DataFrame:
    """One row per order with its fraud label and attributes unpacked."""
    o = shop.orders.drop_duplicates("order_id").reset_index(drop=True)
    attrs = pd.json_normalize(o["attributes"].map(json.loads).tolist())
    o = pd.concat([o, attrs], axis=1)
    fraud = shop.labels.query("entity == 'order' and name == 'fraud'").set_index("entity_id")[
        "value"
    ]
    o["fraud"] = o["order_id"].map(fraud).astype(bool)
    return o


# ------------------------------------------------------------------ determinism and schema


def test_same_seed_gives_identical_tables_and_truth():
    cfg = SimConfig(n_users=300, n_items=40, n_categories=4, days=30, seed=5)
    a, b = simulate(cfg), simulate(cfg)
    for name in TABLE_ORDER:
        pd.testing.assert_frame_equal(a.tables[name], b.tables[name], check_exact=True)
    np.testing.assert_array_equal(a.truth.elasticity, b.truth.elasticity)
    np.testing.assert_array_equal(a.truth.candidate_probs, b.truth.candidate_probs)
    c = simulate(cfg, seed=6)
    assert not a.events["item_id"].equals(c.events["item_id"])
    assert not np.array_equal(a.truth.elasticity, c.truth.elasticity)


def test_every_table_has_exactly_the_canonical_columns_and_types(shop):
    for name in TABLE_ORDER:
        assert list(shop.tables[name].columns) == TABLES[name].columns, name
        assert shop.arrow(name).schema.equals(TABLES[name].schema), name
        assert len(shop.tables[name]) > 0, name
    assert set(shop.events["event_type"]) <= set(EVENT_TYPES)
    assert set(shop.orders["status"]) == set(ORDER_STATUSES)
    assert str(shop.events["ts"].dt.tz) == "UTC"


def test_keys_are_unique_and_values_valid(shop):
    assert shop.events["event_id"].is_unique
    assert not shop.orders.duplicated(["order_id", "line"]).any()
    assert shop.users["user_id"].is_unique and shop.items["item_id"].is_unique
    assert not shop.prices.duplicated(["item_id", "date"]).any()
    assert (shop.prices["price"] > 0).all() and (shop.items["price"] > 0).all()
    assert (shop.events["price"].dropna() > 0).all()
    assert shop.orders["user_id"].isin(shop.users["user_id"]).all()
    assert shop.events["item_id"].dropna().isin(shop.items["item_id"]).all()
    # events carry their item's price on the day their session started
    start = shop.events.groupby("session_id")["ts"].transform("min")
    ev = shop.events.assign(date=start.dt.date).dropna(subset=["price"])
    day_price = ev.merge(shop.prices, on=["item_id", "date"], suffixes=("", "_day"))
    assert len(day_price) == len(ev)
    np.testing.assert_allclose(day_price["price"], day_price["price_day"])


def test_written_to_a_workspace_nothing_is_quarantined(shop):
    ws = Workspace(":memory:")
    reports = shop.write(ws)
    # the same rows again are all duplicates: keys are real keys
    again = shop.write(ws)
    assert [r.table for r in reports] == list(TABLE_ORDER)
    for r in reports:
        assert r.rows_quarantined == 0, (r.table, r.reasons)
        assert r.rows_accepted == len(shop.tables[r.table]) == ws.count(r.table)
    assert ws.count("quarantine") == sum(r.rows_read for r in again)
    assert all(
        r.rows_accepted == 0 and r.reasons == {"duplicate key: already in workspace": r.rows_read}
        for r in again
    )


# ------------------------------------------------------------------ behaviour


def test_funnel_narrows_and_every_purchase_follows_a_view_and_a_cart(shop):
    counts = shop.events["event_type"].value_counts()
    assert counts["view"] > counts["add_to_cart"] > counts["purchase"] > 0
    assert 0.03 < counts["add_to_cart"] / counts["view"] < 0.3
    ev = shop.events
    buys = ev[ev["event_type"] == "purchase"][["session_id", "item_id", "ts"]]
    for step in ("view", "add_to_cart"):
        before = ev[ev["event_type"] == step].groupby(["session_id", "item_id"])["ts"].min()
        first = buys.set_index(["session_id", "item_id"]).index.map(before)
        assert (pd.Series(first, index=buys.index) <= buys["ts"]).all(), step
    # purchases and order lines are the same facts
    assert counts["purchase"] == len(shop.orders)


def test_search_queries_describe_the_item_viewed_next(shop):
    ev = shop.events.reset_index(drop=True)
    searches = ev.index[ev["event_type"] == "search"]
    assert len(searches) > 100
    views = ev[ev["event_type"] == "view"]
    first_view = views.groupby("session_id")["item_id"].first()
    titles = shop.items.set_index("item_id")["title"].str.lower()
    q = ev.loc[searches, ["session_id", "query"]]
    title = q["session_id"].map(first_view).map(titles)
    found = [all(w in t for w in query.split()) for query, t in zip(q["query"], title, strict=True)]
    # colour queries name an attribute, not a title word (2 templates of 7); a fifth use a
    # synonym for the noun and 12% carry a typo: (5/7) x 0.8 x 0.88 = 0.50 are verbatim
    assert 0.42 < np.mean(found) < 0.58
    from shopml.data.synth.words import COLORS, NOUN_SYNONYMS

    nouns = q["session_id"].map(first_view).map(shop.items.set_index("item_id")["title"])
    synonyms = [any(s in query for s in NOUN_SYNONYMS.values()) and not any(
        n in query for n in NOUN_SYNONYMS if n in str(t).lower()) for query, t in zip(q["query"], nouns, strict=True)]
    assert 0.1 < np.mean(synonyms) < 0.3
    vocabulary = set(" ".join(shop.items["title"].str.lower()).split()) | set(
        " ".join(NOUN_SYNONYMS.values()).split()) | set(" ".join(shop.items["description"].str.lower()).split()) | set(
        " ".join(COLORS).lower().split())
    typos = [any(w not in vocabulary for w in query.split()) for query in q["query"]]
    assert 0.05 < np.mean(typos) < 0.2


def test_misspell_drops_or_swaps_one_inner_letter():
    from shopml.data.synth.sessions import misspell

    texts = np.array(["red cotton shirt", "kettle", "ab", "steel hammer"] * 50, dtype=object)
    out = misspell(np.random.default_rng(0), texts, 1.0)
    assert (out[texts == "ab"] == "ab").all()  # too short to misspell
    for a, b in zip(texts, out, strict=True):
        if a != b:
            assert a[0] == b[0] and (len(b) == len(a) - 1 or sorted(a) == sorted(b))
    assert np.mean(out != texts) > 0.5


def test_fraud_share_matches_the_config(order_frame):
    share = order_frame["fraud"].mean()
    assert abs(share - SMALL.fraud_rate) < 0.005
    assert order_frame["fraud"].sum() >= 20


def test_fraud_orders_share_devices_and_check_out_right_after_sign_up(shop, order_frame):
    o = order_frame
    users_per_device = o.groupby("device_id")["user_id"].nunique()
    o = o.assign(shared=o["device_id"].map(users_per_device) > 1)
    signup = shop.users.set_index("user_id")["signup_ts"]
    o["minutes"] = (o["ts"] - o["user_id"].map(signup)).dt.total_seconds() / 60
    fraud, honest = o[o["fraud"]], o[~o["fraud"]]
    assert fraud["shared"].mean() > 0.5 > 5 * honest["shared"].mean()
    assert fraud["minutes"].median() < 30 < honest["minutes"].median()
    assert fraud["checkout_seconds"].median() * 3 < honest["checkout_seconds"].median()
    # honest customers also buy soon after signing up: a signal, not a giveaway
    assert (honest["minutes"] < 30).sum() > 0
    from scipy.stats import mannwhitneyu

    assert mannwhitneyu(fraud["minutes"], honest["minutes"], alternative="less").pvalue < 1e-6
    user_fraud = shop.labels.query("entity == 'user' and name == 'fraud'").set_index("entity_id")[
        "value"
    ]
    assert set(fraud["user_id"]) <= set(user_fraud[user_fraud == 1].index)


def test_weekly_seasonality_is_visible(shop):
    sessions = shop.events.groupby("session_id")["ts"].min()
    days = pd.Series(pd.date_range(SMALL.start, periods=SMALL.days, freq="D"))
    per_dow = (
        sessions.dt.dayofweek.value_counts().sort_index()
        / days.dt.dayofweek.value_counts().sort_index()
    )
    weekly = shop.truth.weekly
    assert np.corrcoef(per_dow.to_numpy(), weekly)[0, 1] > 0.7
    assert per_dow[[5, 6]].mean() > 1.08 * per_dow[[1, 2]].mean()


def test_elasticity_is_recoverable_from_the_simulated_demand():
    # one category, few items, lots of traffic and price variation: a clean experiment
    cfg = SimConfig(
        n_users=20_000,
        n_items=12,
        n_categories=1,
        days=365,
        session_rate=0.02,
        promo_share=0.4,
        price_change_rate=0.05,
        fraud_rate=0.0,
        impression_share=0.0,
        search_share=0.0,
        seed=3,
    )
    shop = simulate(cfg)
    ev = shop.events
    views = ev[ev["event_type"] == "view"].groupby(["item_id", "price"]).size().rename("views")
    buys = ev[ev["event_type"] == "purchase"].groupby(["item_id", "price"]).size().rename("buys")
    g = pd.concat([views, buys], axis=1).fillna(0).reset_index()
    g["log_ratio"] = np.log(g["price"] / g["item_id"].map(shop.items.set_index("item_id")["price"]))

    def slope(d: pd.DataFrame) -> float:
        # Poisson regression of purchases on log relative price, offset log(views), by Newton
        x, y, w = d["log_ratio"].to_numpy(), d["buys"].to_numpy(), d["views"].to_numpy()
        beta = np.array([np.log(y.sum() / w.sum()), 0.0])
        for _ in range(30):
            mu = w * np.exp(beta[0] + beta[1] * x)
            grad = np.array([(y - mu).sum(), ((y - mu) * x).sum()])
            hess = np.array([[mu.sum(), (mu * x).sum()], [(mu * x).sum(), (mu * x * x).sum()]])
            beta = beta + np.linalg.solve(hess, grad)
        return float(beta[1])

    est = g.groupby("item_id").apply(slope, include_groups=False)
    n_buys = g.groupby("item_id")["buys"].sum()
    truth = shop.labels.query("entity == 'item' and name == 'elasticity'").set_index("entity_id")[
        "value"
    ]
    well = n_buys[n_buys >= 300].index
    assert len(well) >= 6
    err = (est[well] - truth[well]).abs()
    assert (err < 0.8).all(), pd.DataFrame({"est": est, "true": truth, "buys": n_buys})
    assert np.average(err, weights=n_buys[well]) < 0.35
    assert np.corrcoef(est[well], truth[well])[0, 1] > 0.7
    # the known base demand is what sells
    demand = shop.labels.query("entity == 'item' and name == 'base_demand'").set_index("entity_id")[
        "value"
    ]
    assert demand.corr(n_buys.reindex(demand.index).fillna(0), method="spearman") > 0.8


def test_review_stars_and_text_follow_satisfaction(shop):
    rv = shop.reviews
    assert len(rv) > 50
    sat = pd.Series(shop.truth.review_satisfaction, index=shop.truth.review_id)
    s = rv["review_id"].map(sat)
    assert rv["rating"].corr(s, method="spearman") > 0.8
    assert rv.groupby("rating")["sentiment"].mean().is_monotonic_increasing
    assert rv["sentiment"].between(-1, 1).all()
    text = rv["text"].str.lower()
    positive = text.str.count(
        r"love|excellent|perfect|great|happy|good|recommend|worth every|premium|well made"
    )
    negative = text.str.count(
        r"terrible|waste|disappoint|awful|broke|not worth|poor|cheap|would not|damaged"
    )
    assert rv["rating"].corr(positive - negative) > 0.6
    # returned goods get worse reviews
    line = rv["attributes"].map(lambda a: json.loads(a)["order_id"])
    # (order, item) is unique in honest orders, the only ones reviewed
    status = shop.orders.drop_duplicates(["order_id", "item_id"]).set_index(
        ["order_id", "item_id"]
    )["status"]
    st = pd.Series(pd.MultiIndex.from_arrays([line, rv["item_id"]]).map(status), index=rv.index)
    assert rv.loc[st == "returned", "rating"].mean() < rv.loc[st == "completed", "rating"].mean()


def test_impressions_log_exact_propensities_and_position_based_clicks(shop):
    im = shop.impressions
    assert ((im["propensity"] > 0) & (im["propensity"] <= 1)).all()
    probs = shop.truth.candidate_probs
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-12)
    # the logged propensity is pi(a_k) / (1 - sum of pi above it), from the policy's own probabilities
    cand = pd.DataFrame(
        {
            "decision_id": np.repeat(shop.truth.decision_id, probs.shape[1]),
            "action": shop.truth.candidates.ravel(),
            "pi": probs.ravel(),
        }
    )
    ctx = im["context"].map(json.loads)
    logged = im.assign(decision_id=ctx.map(lambda c: c["decision_id"])).merge(
        cand, on=["decision_id", "action"]
    )
    assert len(logged) == len(im)
    logged = logged.sort_values(["decision_id", "position"])
    above = logged.groupby("decision_id")["pi"].cumsum() - logged["pi"]
    np.testing.assert_allclose(logged["propensity"], logged["pi"] / (1 - above), rtol=1e-9)
    # position-based model: clicks fall with position, and the true CTR explains them
    true_ctr = shop.labels.query("entity == 'impression'").set_index("entity_id")["value"]
    t = im["impression_id"].map(true_ctr)
    by_pos = (
        im.assign(t=t)
        .groupby("position")
        .agg(ctr=("reward", "mean"), t=("t", "mean"), n=("t", "size"))
    )
    assert by_pos["ctr"].iloc[0] > by_pos["ctr"].iloc[1] > by_pos["ctr"].iloc[-1]
    assert by_pos["ctr"].iloc[0] > 2 * by_pos["ctr"].iloc[-1]
    se = np.sqrt(by_pos["t"] * (1 - by_pos["t"]) / by_pos["n"])
    assert ((by_pos["ctr"] - by_pos["t"]).abs() < 4 * se).all(), by_pos
    assert im.groupby(pd.qcut(t, 4), observed=True)["reward"].mean().is_monotonic_increasing
    assert set(ctx.iloc[0]) >= {
        "country",
        "device",
        "age_band",
        "tenure_days",
        "hour",
        "dow",
        "category",
    }


def test_support_messages_follow_what_happened_to_the_order(shop):
    sm = shop.support_messages
    order_id = sm["attributes"].map(lambda a: json.loads(a)["order_id"])
    status = shop.orders.groupby("order_id")["status"].agg(set)
    st = order_id.map(status)
    assert st[sm["intent"] == "cancel_order"].map(lambda s: "cancelled" in s).all()
    assert st[sm["intent"] == "return_item"].map(lambda s: "returned" in s).all()
    assert (sm["text"].str.len() > 10).all() and sm["answer"].notna().all()


def test_truth_round_trips_without_pickle(shop, tmp_path):
    path = shop.save_truth(tmp_path / "truth.npz")
    with np.load(path, allow_pickle=False) as z:
        assert z["elasticity"].dtype == np.float64
    back = load_truth(path)
    assert back.config == shop.config
    np.testing.assert_array_equal(back.item_id, shop.truth.item_id)
    np.testing.assert_array_equal(back.candidates, shop.truth.candidates)
    np.testing.assert_array_equal(back.day, shop.truth.day)
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="junk.npz"):
        load_truth(tmp_path / "junk.npz")


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("n_users", 0),
        ("n_items", 2),
        ("n_categories", 99),
        ("fraud_rate", 1.0),
        ("epsilon", 0.0),
        ("weekly", (1.0, 2.0)),
        ("start", "yesterday"),
        ("slate_size", 20),
        ("days", 1.5),
    ],
)
def test_bad_config_is_rejected_naming_the_parameter(field, value):
    with pytest.raises(ValidationError, match=field):
        simulate(SimConfig(n_categories=3), **{field: value})


def test_tiny_and_extreme_configs_still_give_valid_tables():
    for cfg in (
        SimConfig(n_users=1, n_items=1, n_categories=1, days=1),
        SimConfig(
            n_users=200,
            n_items=20,
            days=30,
            fraud_rate=0.5,
            review_rate=1.0,
            support_rate=1.0,
            epsilon=1e-6,
            temperature=0.05,
            seed=2,
        ),
    ):
        shop = simulate(cfg)
        ws = Workspace(":memory:")
        shop.write(ws)
        assert ws.count("quarantine") == 0
        assert ws.count("items") == cfg.n_items


# ------------------------------------------------------------------ customers who leave


def test_customers_leave_after_purchases_and_bad_experiences_more_often(shop):
    t = shop.truth
    honest = ~t.user_fraud
    assert t.dropout_prob.shape == t.user_id.shape == t.dropout_sec.shape
    # p_u ~ Beta(0.793, 2.426): CDNOW's published BG/NBD drop-out, mean 0.25
    assert t.dropout_prob[honest].mean() == pytest.approx(0.793 / (0.793 + 2.426), abs=0.02)
    left = honest & np.isfinite(t.dropout_sec)
    buyers = np.isin(t.user_id, shop.orders["user_id"].unique()) & honest
    assert 0.1 < left[buyers].mean() < 0.9 and not left[~buyers].any()  # leaving follows an order
    # nobody who left comes back: no event of theirs after the moment they left
    start = pd.Timestamp(t.day[0])
    gone = pd.Series(start + pd.to_timedelta(np.where(left, t.dropout_sec, 0), unit="s"),
                     index=t.user_id)[left]
    ev = shop.events[shop.events["user_id"].isin(gone.index)]
    last_seen = pd.to_datetime(ev["ts"], utc=True).dt.tz_localize(None).groupby(ev["user_id"]).max()
    assert (last_seen <= gone.reindex(last_seen.index) + pd.Timedelta(hours=1)).all()
    # each leaver left at one of their own orders
    orders = shop.orders.drop_duplicates("order_id")
    o_ts = pd.to_datetime(orders["ts"], utc=True).dt.tz_localize(None)
    at_order = pd.Series(o_ts.to_numpy(), index=orders["user_id"].to_numpy())
    hits = [np.any(np.abs(at_order.loc[[u]] - g) < pd.Timedelta(seconds=1)) for u, g in gone.head(200).items()]
    assert all(hits)
    # bad experiences (returns follow low satisfaction) are followed by leaving more often
    here = np.abs(o_ts.to_numpy() - gone.reindex(orders["user_id"]).to_numpy()) < pd.Timedelta(seconds=1)
    status = orders["status"].to_numpy()
    assert here[status == "returned"].mean() > here[status == "completed"].mean() + 0.05


def test_frequent_buyers_who_keep_coming_stay_longer(shop):
    # the drop-out is per purchase: among customers with a first order, more orders by day 60
    # go with a lower p_u (those who drew a high p_u left after few orders)
    t = shop.truth
    o = shop.orders.drop_duplicates("order_id")
    n = o.groupby("user_id").size()
    p = pd.Series(t.dropout_prob, index=t.user_id).reindex(n.index)
    assert p[n >= 3].mean() < p[n == 1].mean()


def test_old_truth_files_without_dropout_still_load(shop, tmp_path):
    import dataclasses

    path = tmp_path / "old.npz"
    fields = {f.name: getattr(shop.truth, f.name) for f in dataclasses.fields(shop.truth)
              if not f.name.startswith("dropout_")}
    np.savez(path, **{k: np.asarray(v) for k, v in fields.items()})
    old = load_truth(path)
    assert old.dropout_sec.size == 0 and old.user_id.size == shop.truth.user_id.size
