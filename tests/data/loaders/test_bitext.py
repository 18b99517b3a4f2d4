import json

import pytest

from shopml.data.loaders import get_loader
from shopml.data.workspace import Workspace

LOADER = get_loader("bitext")
pytestmark = pytest.mark.skipif(not LOADER.found(), reason="Bitext data not in the data directory")


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("bitext")
    yield ws, reports
    ws.close()


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 8359  # data lines after the header
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 0
    assert ws.count("support_messages") == 8359
    n_intents, n_categories = ws.con.execute(
        "SELECT count(DISTINCT intent), count(DISTINCT category) FROM support_messages"
    ).fetchone()
    assert (n_intents, n_categories) == (27, 11)


def test_lines_map_onto_messages(ingested):
    ws, _ = ingested
    rows = ws.df(
        "support_messages", where="message_id IN ('bitext-1', 'bitext-1022', 'bitext-8359')"
    )
    got = {
        r.message_id: (r.text, r.intent, r.category, json.loads(r.attributes)["flags"])
        for r in rows.itertuples()
    }
    assert got == {
        # the BOM before the header is gone: the flags column is found by name
        "bitext-1": ("I have problems with canceling an order", "cancel_order", "ORDER", "BM"),
        # quoted utterance with a comma inside
        "bitext-1022": (
            "I cannott find the early exit penalty, I need assistance",
            "check_cancellation_fee",
            "CANCELLATION_FEE",
            "BCELZ",
        ),
        "bitext-8359": ("anything new on my refund?", "track_refund", "REFUND", "BI"),
    }


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset("bitext")
    assert rep.skipped and ws.count("support_messages") == 8359
