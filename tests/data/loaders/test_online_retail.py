import json

import pandas as pd

DATASET = "online-retail"


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 541909  # data lines, as MANIFEST.md says
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 2
    assert ws.count("orders") == rep.rows_accepted
    # the derived catalogue and customers: every StockCode, every identified customer
    assert rep.derived == {"items": 4070, "users": 4372}
    assert (ws.count("items"), ws.count("users")) == (4070, 4372)


def test_bad_debt_adjustments_are_quarantined_with_the_raw_line(ingested):
    ws, _ = ingested
    q = ws.sql("SELECT row_number, raw, reason FROM quarantine ORDER BY row_number")
    assert q.row_number.tolist() == [299984, 299985]
    assert q.reason.tolist() == ["negative price", "negative price"]
    raw = json.loads(q.raw[0])
    assert (raw["InvoiceNo"], raw["Description"], raw["UnitPrice"]) == (
        "A563186", "Adjust bad debt", "-11062.06",
    )  # fmt: skip


def _quarantined(ws, predicate: str) -> int:
    """Quarantined lines of the file whose raw fields satisfy ``predicate`` (SQL over ``r``)."""
    return ws.con.execute(
        "SELECT count(*) FROM (SELECT json_extract_string(raw, '$.InvoiceNo') AS inv, "
        "json_extract_string(raw, '$.CustomerID') AS cust, "
        "TRY_CAST(json_extract_string(raw, '$.Quantity') AS DOUBLE) AS qty FROM quarantine) r "
        f"WHERE {predicate}"
    ).fetchone()[0]


def test_statuses_cancellations_and_returns(ingested):
    ws, _ = ingested
    status = dict(ws.con.execute("SELECT status, count(*) FROM orders GROUP BY 1").fetchall())
    # 9,288 cancellation lines (invoice 'C...') and 10,624 negative quantities in the file
    assert status["cancelled"] == 9288 - _quarantined(ws, "inv LIKE 'C%'")
    assert status["returned"] == 10624 - 9288 - _quarantined(ws, "qty < 0 AND inv NOT LIKE 'C%'")
    assert sum(status.values()) == ws.count("orders")
    assert status == {"completed": 531283, "cancelled": 9288, "returned": 1336}
    # quantities are stored positive; the status tells the direction
    assert ws.con.execute("SELECT min(quantity) FROM orders").fetchone()[0] > 0
    cancelled = ws.df("orders", where="order_id = 'C536379'").iloc[0]
    assert (cancelled.status, cancelled.quantity, cancelled.item_id) == ("cancelled", 1.0, "D")


def test_anonymous_orders_are_kept_with_null_user(ingested):
    ws, _ = ingested
    anonymous = ws.con.execute("SELECT count(*) FROM orders WHERE user_id IS NULL").fetchone()[0]
    assert anonymous + _quarantined(ws, "cust IS NULL") == 135080
    assert anonymous == 135078
    identified = ws.con.execute(
        "SELECT count(DISTINCT user_id), count(DISTINCT order_id) FROM orders"
    ).fetchone()
    assert identified == (4372, 25898)  # 25,900 invoices less the 2 quarantined adjustments


def test_first_line_and_derived_rows(ingested):
    ws, _ = ingested
    first = ws.df("orders", where="order_id = '536365' AND line = 1").iloc[0]
    assert (first.user_id, first.item_id, first.quantity, first.unit_price) == (
        "17850", "85123A", 6.0, 2.55,
    )  # fmt: skip
    assert (first.currency, first.status) == ("GBP", "completed")
    assert first.ts == pd.Timestamp("2010-12-01 08:26", tz="UTC")
    assert json.loads(first.attributes) == {
        "country": "United Kingdom",
        "description": "WHITE HANGING HEART T-LIGHT HOLDER",
    }
    lines = ws.con.execute("SELECT count(*) FROM orders WHERE order_id = '536365'").fetchone()[0]
    assert lines == 7
    item = ws.df("items", where="item_id = '85123A'").iloc[0]
    assert item.title == "WHITE HANGING HEART T-LIGHT HOLDER" and item.currency == "GBP"
    user = ws.df("users", where="user_id = '17850'").iloc[0]
    assert user.country == "United Kingdom"
    lo, hi = ws.con.execute("SELECT min(ts), max(ts) FROM orders").fetchone()
    assert (str(lo.date()), str(hi.date())) == ("2010-12-01", "2011-12-09")


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    before = ws.count("orders"), ws.count("items"), ws.count("users"), ws.count("quarantine")
    (rep,) = ws.ingest_dataset(DATASET)
    assert rep.skipped
    after = ws.count("orders"), ws.count("items"), ws.count("users"), ws.count("quarantine")
    assert after == before
