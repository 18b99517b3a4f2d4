import pytest

from shopml.data.loaders import get_loader
from shopml.data.workspace import Workspace

LOADER = get_loader("homedepot")
pytestmark = pytest.mark.skipif(
    not LOADER.found(), reason="homedepot data not in the data directory"
)


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("homedepot")
    yield ws, reports
    ws.close()


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 51845  # data lines of train_dev.csv.gz
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 0
    assert ws.count("relevance_judgements") == rep.rows_accepted
    assert rep.derived == {"items": 41066}  # distinct product_uid
    assert ws.count("items") == 41066


def test_first_lines_map_onto_judgements(ingested):
    ws, _ = ingested
    rows = ws.df("relevance_judgements", where="judgement_id IN ('3', '16', '221473')")
    got = {r.judgement_id: (r.query, r.item_id, r.relevance) for r in rows.itertuples()}
    assert got == {
        "3": ("l bracket", "100001", 2.5),
        "16": ("rain shower head", "100005", 2.33),
        "221473": ("fine sheer curtain 63 inches", "206650", 2.33),
    }
    lo, hi = ws.con.execute(
        "SELECT min(relevance), max(relevance) FROM relevance_judgements"
    ).fetchone()
    assert (lo, hi) == (1.0, 3.0)


def test_items_take_first_title_and_decode_html_entities(ingested):
    ws, _ = ingested
    titles = dict(
        ws.con.execute(
            "SELECT item_id, title FROM items WHERE item_id IN ('100001', '100540', '109033', '100082')"
        ).fetchall()
    )
    assert titles == {
        "100001": "Simpson Strong-Tie 12-Gauge Angle",
        # two titles in the file for this product: the first line's wins
        "100540": "American Standard EverClean 5 ft. x 32.75 in. Reversible Drain Whirlpool Tub in White",
        "109033": 'IDEAL Security Residential Wireless "RF" Motion Sensor',
        "100082": "Corner Baker's Rack with Slate Top",
    }
    assert (
        ws.con.execute("SELECT count(*) FROM items WHERE title LIKE '%&amp;%'").fetchone()[0] == 0
    )


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    before = ws.count("relevance_judgements"), ws.count("items")
    (rep,) = ws.ingest_dataset("homedepot")
    assert rep.skipped
    assert (ws.count("relevance_judgements"), ws.count("items")) == before
