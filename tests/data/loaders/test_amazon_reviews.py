import gzip
import json

import pandas as pd
import pytest

from shopml.data.loaders import get_loader
from shopml.data.loaders.amazon_reviews import FILE
from shopml.data.workspace import Workspace

LOADER = get_loader("amazon-reviews")
needs_data = pytest.mark.skipif(
    not LOADER.found(), reason="amazon reviews data not in the data directory"
)


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("amazon-reviews")
    yield ws, reports
    ws.close()


@needs_data
def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 5269  # JSON lines in the file
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    # same reviewer, product and time more than once: first occurrence kept
    assert rep.reasons == {"duplicate key": 1108}
    assert rep.rows_accepted == ws.count("reviews") == 4161
    assert ws.con.execute(
        "SELECT count(DISTINCT user_id), count(DISTINCT item_id) FROM reviews"
    ).fetchone() == (
        991,
        85,
    )


@needs_data
def test_first_lines_map_onto_reviews(ingested):
    ws, _ = ingested
    first = ws.df("reviews", where="review_id = 'A3CIUOJXQ5VDQ2_B0000530HU_1472688000'").iloc[0]
    assert first.user_id == "A3CIUOJXQ5VDQ2" and first.item_id == "B0000530HU"
    assert first.ts == pd.Timestamp("2016-09-01", tz="UTC")
    assert first.rating == 5.0 and first.title == "Five Stars"
    assert first.text == "As advertised. Reasonably priced"
    assert json.loads(first.attributes) == {
        "verified": True,
        "vote": None,
        "style": {"Size": "7.0 oz", "Flavor": "Classic Ice Blue"},
    }
    fourth = ws.df("reviews", where="review_id = 'A2UEO5XR3598GI_B0000530HU_1304380800'").iloc[0]
    assert fourth.rating == 5.0 and json.loads(fourth.attributes)["vote"] == 25
    assert json.loads(fourth.attributes)["verified"] is False
    # "1,341" helpful votes become the number 1341
    assert (
        ws.con.execute(
            "SELECT count(*) FROM reviews WHERE attributes->>'vote' = '1341'"
        ).fetchone()[0]
        == 2
    )
    ratings = dict(ws.con.execute("SELECT rating, count(*) FROM reviews GROUP BY 1").fetchall())
    assert set(ratings) == {1.0, 2.0, 3.0, 4.0, 5.0}


@needs_data
def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    before = ws.count("reviews"), ws.count("quarantine")
    (rep,) = ws.ingest_dataset("amazon-reviews")
    assert rep.skipped
    assert (ws.count("reviews"), ws.count("quarantine")) == before


def test_malformed_lines_are_quarantined_not_fatal(tmp_path):
    good = {
        "overall": 4.0,
        "verified": True,
        "reviewerID": "U1",
        "asin": "I1",
        "reviewText": "nice",
        "summary": "ok",
        "unixReviewTime": 1472688000,
        "vote": "1,200",
    }
    lines = [
        json.dumps(good),
        '{"overall": 5.0, "reviewerID": "U2", "asin": ',  # truncated JSON
        "this is not json at all",
        "[1, 2, 3]",  # valid JSON, but not a review object
        json.dumps({**good, "reviewerID": "U3", "unixReviewTime": "yesterday"}),
    ]
    with gzip.open(tmp_path / FILE, "wt", encoding="utf-8") as fh:
        fh.write("\n".join(lines) + "\n")
    with Workspace(":memory:") as ws:
        (rep,) = ws.ingest_dataset("amazon-reviews", path=tmp_path)
        assert rep.rows_read == 5
        assert rep.rows_accepted == 1 and rep.rows_quarantined == 4
        got = ws.df("reviews").iloc[0]
        assert got.review_id == "U1_I1_1472688000" and json.loads(got.attributes)["vote"] == 1200
        q = ws.sql("SELECT row_number, raw, reason FROM quarantine ORDER BY row_number")
        assert q.row_number.tolist() == [2, 3, 4, 5]
        assert all("malformed JSON line" in r for r in q.reason[:3])
        assert "this is not json at all" in q.raw[1]
        assert "unparsable ts: yesterday" in q.reason[3]
