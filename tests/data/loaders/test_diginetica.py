import json

import pandas as pd

from shopml.data.loaders import get_loader
from shopml.data.loaders.diginetica import CATEGORIES, PURCHASES, VIEWS

DATASET = "diginetica"


def ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def test_every_line_is_accounted_for_catalogue_first(ingested):
    ws, reports = ingested
    got = [(r.source, r.table, r.rows_read, r.rows_accepted, r.rows_quarantined) for r in reports]
    assert got == [
        ("diginetica:product-categories.csv", "items", 184047, 184047, 0),
        ("diginetica:sample_train-item-views.csv", "events", 12391, 12391, 0),
        ("diginetica:train-purchases.csv", "events", 18025, 18025, 0),
    ]
    # users with an id: 1,270 in the views, 4,354 more in the purchases
    assert [r.derived for r in reports] == [{}, {"users": 1270}, {"users": 4354}]
    assert ws.count("users") == 5624
    assert ws.count("quarantine") == 0


def test_items_carry_category_ids(ingested):
    ws, _ = ingested
    cats = dict(
        ws.con.execute(
            "SELECT item_id, category FROM items WHERE item_id IN ('139578', '128777')"
        ).fetchall()
    )
    assert cats == {"139578": "1096", "128777": "654"}  # first and last lines
    assert ws.con.execute("SELECT count(DISTINCT category) FROM items").fetchone()[0] == 1217
    # every viewed or purchased item is in the catalogue
    orphans = ws.con.execute(
        "SELECT count(*) FROM events e ANTI JOIN items i USING (item_id)"
    ).fetchone()[0]
    assert orphans == 0


def test_views_keep_sessions_anonymous_users_and_order(ingested):
    ws, _ = ingested
    n, with_user, sessions, items = ws.con.execute(
        "SELECT count(*), count(user_id), count(DISTINCT session_id), count(DISTINCT item_id) "
        "FROM events WHERE event_type = 'view'"
    ).fetchone()
    assert (n, with_user, sessions, items) == (12391, 4710, 2986, 7139)  # as MANIFEST.md says
    assert ws.con.execute("SELECT count(*) FROM events WHERE user_id = 'NA'").fetchone()[0] == 0
    s1 = ws.sql(
        "SELECT item_id, ts, attributes FROM events WHERE session_id = '1' AND event_type = 'view' "
        "ORDER BY ts"
    )
    # session 1 (all on 2016-05-09): ordered by timeframe, first view at 00:00, spacing kept
    assert s1.item_id.tolist() == [
        "9654", "33043", "32118", "12352", "35077", "36118", "81766", "129055", "31331", "32627",
    ]  # fmt: skip
    assert s1.ts.iloc[0] == ts("2016-05-09 00:00:00")
    assert s1.ts.iloc[-1] == ts("2016-05-09") + pd.Timedelta(milliseconds=1112408 - 75848)
    assert json.loads(s1.attributes.iloc[0]) == {"timeframe": 75848}
    assert ws.df("events", where="event_id = 'view:1:526309:81766'").iloc[0].item_id == "81766"


def test_purchases_keep_orders_and_land_on_their_day(ingested):
    ws, _ = ingested
    n, with_user, sessions, orders, qty = ws.con.execute(
        "SELECT count(*), count(user_id), count(DISTINCT session_id), "
        "count(DISTINCT attributes->>'order'), sum(quantity) FROM events WHERE event_type = 'purchase'"
    ).fetchone()
    assert (n, with_user, sessions, orders, qty) == (18025, 6703, 12630, 13506, 18025)
    first = ws.df("events", where="event_id = 'purchase:16421:25911:17100868:1'").iloc[0]
    assert (first.user_id, first.session_id, first.item_id) == ("18278", "150", "25911")
    assert json.loads(first.attributes) == {"order": "16421", "timeframe": 17100868}
    # session 447 lasts 82 days: each purchase keeps its own eventdate and the true gap
    s447 = ws.sql(
        "SELECT ts FROM events WHERE session_id = '447' AND event_type = 'purchase' ORDER BY ts"
    ).ts.tolist()
    assert s447 == [ts("2016-02-02 00:00:00"), ts("2016-04-24 01:22:41.633")]
    assert s447[1] - s447[0] == pd.Timedelta(milliseconds=7091627706 - 1866073)
    lo, hi = ws.con.execute(
        "SELECT min(ts), max(ts) FROM events WHERE event_type = 'purchase'"
    ).fetchone()
    assert (str(lo.date()), str(hi.date())) == ("2016-01-02", "2016-06-17")
    # lines repeating another line exactly are kept and numbered
    repeats = ws.con.execute(
        "SELECT count(*) FROM events WHERE event_type = 'purchase' AND event_id NOT LIKE '%:1'"
    ).fetchone()[0]
    assert repeats == 28


def test_every_event_lands_on_its_eventdate_in_session_order(ingested):
    ws, _ = ingested
    folder = get_loader(DATASET).locate()
    for fname, kind, session in (
        (VIEWS, "view", "session_id"),
        (PURCHASES, "purchase", "sessionId"),
    ):
        raw = f"read_csv('{folder / fname}', delim=';', all_varchar=true)"
        wrong_day, wrong_gap = ws.con.execute(
            f"WITH r AS (SELECT {session} AS session_id, eventdate, "
            "CAST(timeframe AS BIGINT) AS tf FROM " + raw + "), "
            "e AS (SELECT session_id, ts, CAST(attributes->>'timeframe' AS BIGINT) AS tf "
            f"FROM events WHERE event_type = '{kind}') "
            # the raw rows' days against the events' days, per session and timeframe
            "SELECT (SELECT count(*) FROM (SELECT DISTINCT session_id, tf, eventdate FROM r) r "
            "JOIN (SELECT DISTINCT session_id, tf, ts FROM e) e USING (session_id, tf) "
            "WHERE CAST(e.ts AS DATE) <> CAST(r.eventdate AS DATE)), "
            "(SELECT count(*) FROM (SELECT ts - min(ts) OVER w AS gap, "
            "to_milliseconds(tf - min(tf) OVER w) AS want FROM e "
            "WINDOW w AS (PARTITION BY session_id)) WHERE gap <> want)"
        ).fetchone()
        assert (fname, wrong_day, wrong_gap) == (fname, 0, 0)


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    reports = ws.ingest_dataset(DATASET)
    assert all(r.skipped for r in reports)
    assert (ws.count("items"), ws.count("events"), ws.count("users")) == (184047, 30416, 5624)


def test_bad_lines_are_quarantined_with_their_reason(tmp_path, workspace):
    (tmp_path / CATEGORIES).write_text("itemId;categoryId\n1;10\n;11\n")
    (tmp_path / VIEWS).write_text(
        "session_id;user_id;item_id;timeframe;eventdate\n"
        "7;NA;1;1000;2016-05-09\n"
        "7;NA;1;2000;not-a-day\n"  # no day: no time
        "8;NA;1;1000\n"  # a field short
    )
    (tmp_path / PURCHASES).write_text(
        "sessionId;userId;timeframe;eventdate;ordernumber;itemId\n9;5;10;2016-05-09;1;1\n"
    )
    reports = workspace.ingest_dataset(DATASET, path=tmp_path)
    assert [(r.rows_read, r.rows_accepted, r.rows_quarantined) for r in reports] == [
        (2, 1, 1),
        (3, 1, 2),
        (1, 1, 0),
    ]
    reasons = sorted(workspace.sql("SELECT reason FROM quarantine").reason)
    assert reasons[0] == "missing item_id"
    assert reasons[1] == "unparsable ts: not-a-day"
    assert reasons[2].startswith("unreadable line")
