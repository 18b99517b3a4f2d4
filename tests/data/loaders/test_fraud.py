import json

import pandas as pd
import pytest

from shopml.core.errors import DataError
from shopml.data.loaders import get_loader
from shopml.data.loaders.fraud import DEV, FULL

DATASET = "fraud"
HEADER = "user_id,signup_time,purchase_time,purchase_value,device_id,source,browser,sex,age,class\n"


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.source == "fraud:Fraud_Data_dev.csv"  # the full file is not in the data directory
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (36183, 36183, 0)
    # one line (user 266538) has no class: its order and user stand, its label is quarantined
    assert rep.derived == {"users": 36183, "labels": 36182}
    assert (ws.count("orders"), ws.count("users"), ws.count("labels")) == (36183, 36183, 36182)
    q = ws.sql("SELECT source, table_name, raw, reason FROM quarantine")
    assert q.source.tolist() == ["fraud:Fraud_Data_dev.csv -> labels"]
    assert q.reason.tolist() == ["missing value"]
    assert json.loads(q.raw[0])["entity_id"] == "266538"


def test_first_line_becomes_an_order_a_user_and_a_label(ingested):
    ws, _ = ingested
    order = ws.df("orders", where="order_id = '356414'").iloc[0]
    assert (order.line, order.user_id, order.item_id) == (1, "356414", None)
    assert order.ts == pd.Timestamp("2015-01-01 00:00", tz="UTC")
    assert (order.quantity, order.unit_price, order.currency, order.status) == (
        1.0, 14.0, "USD", "completed",
    )  # fmt: skip
    assert json.loads(order.attributes) == {
        "device_id": "BBPACGBUVJUXF",
        "source": "Ads",
        "browser": "Chrome",
    }
    user = ws.df("users", where="user_id = '356414'").iloc[0]
    assert user.signup_ts == pd.Timestamp("2015-01-01 00:00", tz="UTC")
    assert json.loads(user.attributes) == {"sex": "F", "age": 38}
    label = ws.df("labels", where="entity_id = '356414'").iloc[0]
    assert (label.entity, label["name"], label.value) == ("order", "is_fraud", 1.0)
    assert label.ts == order.ts
    # a later line: times with one-digit month and hour parse
    later = ws.df("orders", where="order_id = '121607'").iloc[0]
    assert later.ts == pd.Timestamp("2015-08-05 17:29", tz="UTC")
    signup = ws.df("users", where="user_id = '121607'").iloc[0].signup_ts
    assert signup == pd.Timestamp("2015-04-18 02:51", tz="UTC")


def test_labels_rates_and_times(ingested):
    ws, _ = ingested
    frauds, rate = ws.con.execute("SELECT sum(value), avg(value) FROM labels").fetchone()
    assert frauds == 4147
    assert rate == pytest.approx(4147 / 36182)
    lo, hi = ws.con.execute("SELECT min(ts), max(ts) FROM orders").fetchone()
    assert (lo, hi) == (
        pd.Timestamp("2015-01-01", tz="UTC"),
        pd.Timestamp("2015-08-05 17:29", tz="UTC"),
    )
    # nobody buys before signing up
    early = ws.con.execute(
        "SELECT count(*) FROM orders o JOIN users u USING (user_id) WHERE o.ts < u.signup_ts"
    ).fetchone()[0]
    assert early == 0
    sources = dict(
        ws.con.execute("SELECT attributes->>'source', count(*) FROM orders GROUP BY 1").fetchall()
    )
    assert sources == {"SEO": 14583, "Ads": 14296, "Direct": 7304}


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset(DATASET)
    assert rep.skipped
    assert (ws.count("orders"), ws.count("users"), ws.count("labels")) == (36183, 36183, 36182)


def test_full_file_is_preferred_and_bad_times_quarantined(tmp_path, workspace):
    (tmp_path / DEV).write_text(HEADER + "1,1/1/15 0:00,1/1/15 0:00,14,D,Ads,Chrome,F,38,1\n")
    (tmp_path / FULL).write_text(
        HEADER
        + "1,1/1/15 0:00,1/1/15 0:00,14,D,Ads,Chrome,F,38,1\n"
        + "2,12/31/15 23:59,not a time,20,E,SEO,IE,M,40,0\n"
        + "3,someday,2/3/15 4:05,20,E,SEO,IE,M,40,0\n"
    )
    (rep,) = workspace.ingest_dataset(DATASET, path=tmp_path)
    assert rep.source == "fraud:Fraud_Data.csv"
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (3, 2, 1)
    assert rep.reasons == {"unparsable ts: not a time": 1}
    # user 3's order stands; the user row with an unreadable signup time is quarantined
    assert rep.derived == {"users": 1, "labels": 2}
    reasons = workspace.sql("SELECT reason FROM quarantine ORDER BY reason").reason.tolist()
    assert reasons == ["unparsable signup_ts: someday", "unparsable ts: not a time"]


def test_folder_without_either_file_is_an_error(tmp_path):
    with pytest.raises(DataError, match="Fraud_Data.csv"):
        get_loader(DATASET).locate(tmp_path)
