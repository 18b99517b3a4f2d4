import datetime as dt
import json

import pytest

from shopml.data.loaders import get_loader
from shopml.data.workspace import Workspace

LOADER = get_loader("retail-price")
pytestmark = pytest.mark.skipif(
    not LOADER.found(), reason="retail price data not in the data directory"
)


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("retail-price")
    yield ws, reports
    ws.close()


def _one(ws, q):
    return ws.con.execute(q).fetchone()


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 676  # product-months after the header
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 0
    assert rep.derived == {"prices": 676, "items": 52}
    assert (ws.count("sales"), ws.count("prices"), ws.count("items")) == (676, 676, 52)
    assert _one(ws, "SELECT min(date), max(date) FROM sales") == (
        dt.date(2017, 1, 1),
        dt.date(2018, 8, 1),
    )


def test_first_line_maps_onto_sales_and_prices(ingested):
    ws, _ = ingested
    qty, revenue, attrs = _one(
        ws,
        "SELECT quantity, revenue, attributes FROM sales WHERE item_id = 'bed1' AND date = '2017-05-01'",
    )
    assert (qty, revenue) == (1.0, 45.95)
    a = json.loads(attrs)
    assert a["unit_price"] == 45.95 and a["freight_price"] == 15.1 and a["customers"] == 57
    assert (a["comp_1"], a["ps1"], a["fp1"]) == (89.9, 3.9, 15.01189655)
    assert (a["comp_2"], a["comp_3"], a["lag_price"], a["product_score"]) == (215, 45.95, 45.9, 4)
    # day first: 01/06/2017 is June 1st, not January 6th
    assert _one(
        ws, "SELECT quantity FROM sales WHERE item_id = 'bed1' AND date = '2017-06-01'"
    ) == (3.0,)
    price, currency, pattrs = _one(
        ws,
        "SELECT price, currency, attributes FROM prices WHERE item_id = 'bed1' AND date = '2017-05-01'",
    )
    assert (price, currency) == (45.95, "BRL")
    assert json.loads(pattrs) == {
        "comp_1": 89.9,
        "comp_2": 215,
        "comp_3": 45.95,
        "freight_price": 15.1,
        "fp1": 15.01189655,
        "fp2": 8.76,
        "fp3": 15.1,
    }


def test_items_carry_category_latest_price_and_dimensions(ingested):
    ws, _ = ingested
    cat, price, currency, attrs = _one(
        ws, "SELECT category, price, currency, attributes FROM items WHERE item_id = 'bed1'"
    )
    assert (cat, price, currency) == ("bed_bath_table", 39.24, "BRL")  # August 2018's unit price
    assert json.loads(attrs) == {
        "product_name_length": 39,
        "product_description_length": 161,
        "product_photos_qty": 2,
        "product_weight_g": 350,
        "volume": 3800,
    }
    assert _one(ws, "SELECT count(DISTINCT category) FROM items") == (9,)


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset("retail-price")
    assert rep.skipped
    assert (ws.count("sales"), ws.count("prices"), ws.count("items")) == (676, 676, 52)
