import json

import pandas as pd
import pytest

from shopml.data.loaders import get_loader
from shopml.data.loaders.cdnow import MASTER, SAMPLE
from shopml.data.workspace import Workspace

DATASET = "cdnow"


@pytest.fixture(scope="module")
def sample():
    """The Fader-Hardie sample ingested alone, as the CLV work uses it."""
    loader = get_loader("cdnow-sample")
    if not loader.found():
        pytest.skip("cdnow sample not in the data directory")
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("cdnow-sample")
    yield ws, reports
    ws.close()


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (69659, 69659, 0)
    assert rep.derived == {"users": 23570}
    assert (ws.count("orders"), ws.count("users")) == (69659, 23570)


def test_first_lines_become_order_lines(ingested):
    ws, _ = ingested
    rows = ws.df(
        "orders", where="order_id IN ('00001-19970101-1', '00002-19970112-1', '00002-19970112-2')"
    ).set_index("order_id")
    first = rows.loc["00001-19970101-1"]
    assert (first.line, first.user_id, first.item_id) == (1, "00001", None)
    assert first.ts == pd.Timestamp("1997-01-01", tz="UTC")
    assert (first.quantity, first.unit_price, first.currency, first.status) == (
        1.0, 11.77, "USD", "completed",
    )  # fmt: skip
    assert json.loads(first.attributes) == {"dollar_value": 11.77}
    # customer 2 bought twice on 1997-01-12: numbered in file order
    assert rows.loc["00002-19970112-1"].unit_price == 12.0
    second = rows.loc["00002-19970112-2"]
    assert (second.quantity, second.unit_price) == (5.0, pytest.approx(15.4))
    assert json.loads(second.attributes) == {"dollar_value": 77.0}


def test_totals_match_the_file(ingested):
    ws, _ = ingested
    cds, dollars, lo, hi, free, same_day = ws.con.execute(
        "SELECT sum(quantity), round(sum(CAST(attributes->>'dollar_value' AS DOUBLE)), 2), "
        "min(ts), max(ts), count(*) FILTER (WHERE unit_price = 0), "
        "count(*) FILTER (WHERE NOT ends_with(order_id, '-1')) FROM orders"
    ).fetchone()
    assert (cds, dollars) == (167881.0, 2500315.63)
    assert (str(lo.date()), str(hi.date())) == ("1997-01-01", "1998-06-30")
    assert free == 80  # transactions worth $0.00
    assert same_day == 69659 - 67591  # lines beyond the first of a customer's day
    # unit price times CDs gives back the dollar value
    off = ws.con.execute(
        "SELECT count(*) FROM orders WHERE "
        "abs(unit_price * quantity - CAST(attributes->>'dollar_value' AS DOUBLE)) > 1e-9"
    ).fetchone()[0]
    assert off == 0


def test_users_signed_up_at_their_first_purchase_in_q1_1997(ingested):
    ws, _ = ingested
    lo, hi = ws.con.execute("SELECT min(signup_ts), max(signup_ts) FROM users").fetchone()
    # the cohort: customers whose first CDNOW purchase was in the first quarter of 1997
    assert (str(lo.date()), str(hi.date())) == ("1997-01-01", "1997-03-25")
    first = ws.df("users", where="user_id = '00002'").iloc[0]
    assert first.signup_ts == pd.Timestamp("1997-01-12", tz="UTC")


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset(DATASET)
    assert rep.skipped
    assert (ws.count("orders"), ws.count("users")) == (69659, 23570)


def test_sample_holds_2357_customers_with_master_ids(sample):
    ws, (rep,) = sample
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (6919, 6919, 0)
    assert rep.derived == {"users": 2357}
    first = ws.df("orders", where="order_id = '00004-19970101-1'").iloc[0]
    assert (first.user_id, first.quantity, first.unit_price) == (
        "00004",
        2.0,
        pytest.approx(14.665),
    )
    assert json.loads(first.attributes) == {"dollar_value": 29.33, "sample_id": 1}
    ids = ws.con.execute(
        "SELECT min(CAST(attributes->>'sample_id' AS INTEGER)), "
        "max(CAST(attributes->>'sample_id' AS INTEGER)), count(DISTINCT attributes->>'sample_id') "
        "FROM users"
    ).fetchone()
    assert ids == (1, 2357, 2357)


def test_sample_reproduces_the_published_calibration_summary(sample):
    """Repeat purchases, recency and age per customer over 1997-01-01..09-30 (39 weeks) equal
    the summary lifetimes ships (``cdnow_customers_summary_with_transactions.csv``)."""
    ws, _ = sample
    summary = get_loader("cdnow-sample").locate() / "cdnow_customers_summary_with_transactions.csv"
    if not summary.exists():
        pytest.skip("lifetimes' summary not in the data directory")
    got = ws.sql(
        """
        WITH days AS (
            SELECT CAST(attributes->>'sample_id' AS INTEGER) AS id, CAST(ts AS DATE) AS d,
                   sum(CAST(attributes->>'dollar_value' AS DOUBLE)) AS value
            FROM orders WHERE ts < TIMESTAMPTZ '1997-10-01 00:00:00+00' GROUP BY ALL),
        ranked AS (SELECT *, min(d) OVER (PARTITION BY id) AS first FROM days)
        SELECT id, count(*) - 1 AS x, (max(d) - min(d)) / 7.0 AS t_x,
               (DATE '1997-09-30' - min(d)) / 7.0 AS T,
               coalesce(avg(value) FILTER (WHERE d > first), 0) AS zbar
        FROM ranked GROUP BY id ORDER BY id
        """
    ).set_index("id")
    want = pd.read_csv(summary).set_index("ID").sort_index()
    assert len(got) == len(want) == 2357
    assert (got.x == want.x).all()
    assert (got.t_x - want.t_x).abs().max() < 0.006  # published to two decimals
    assert (got["T"] - want["T"]).abs().max() < 0.006
    assert (got.zbar - want.zbar).abs().max() < 0.011  # rounding of half-cents differs


def test_sample_in_a_master_workspace_adds_nothing_twice(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset("cdnow-sample")
    assert (rep.rows_read, rep.rows_accepted) == (6919, 0)
    assert rep.reasons == {"duplicate key: already in workspace": 6919}
    assert ws.count("orders") == 69659


def test_zero_cds_and_malformed_lines(tmp_path, workspace):
    (tmp_path / MASTER).write_text(
        " customer_id  date number_of_cds  dollar_value\r\n"
        " 00001 19970101  0   0.00\r\n"  # no CDs: no unit price
        " 00002 19970101  1\r\n"  # a field short
        " 00003 1997013X  1   10.00\r\n"  # not a date
        " 00004 19970105  2   10.00\r\n"
    )
    (rep,) = workspace.ingest_dataset(DATASET, path=tmp_path)
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (4, 2, 2)
    prices = dict(workspace.con.execute("SELECT user_id, unit_price FROM orders").fetchall())
    assert prices == {"00001": None, "00004": 5.0}
    q = workspace.sql("SELECT row_number, reason FROM quarantine ORDER BY row_number")
    assert q.row_number.tolist() == [2, 3]
    assert q.reason.tolist() == ["missing order_id", "unparsable ts: 1997013X"]


def test_sample_lines_have_five_fields(tmp_path, workspace):
    (tmp_path / SAMPLE).write_text(
        " 00004 0001 19970101  2   29.33\r\n 00005 19970101  2   29.33\r\n"
    )
    (rep,) = workspace.ingest_dataset("cdnow-sample", path=tmp_path)
    assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (2, 1, 1)
    # the short line's fields are shifted, so its id is missing (and its "date" is a CD count)
    assert list(rep.reasons) == ["missing order_id; unparsable ts: 2"]
