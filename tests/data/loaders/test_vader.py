import json
import shutil

import pytest

from shopml.data.loaders import get_loader
from shopml.data.loaders.vader import RATINGS, TRUTH
from shopml.data.workspace import Workspace

LOADER = get_loader("vader-snippets")
needs_data = pytest.mark.skipif(not LOADER.found(), reason="VADER data not in the data directory")


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("vader-snippets")
    yield ws, reports
    ws.close()


@needs_data
def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 3708  # lines of the ground-truth file
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 0
    assert ws.count("reviews") == 3708
    # every snippet found its ratings line (BOM on the first one stripped) with 20 raters
    n_joined, n_twenty = ws.con.execute(
        "SELECT count(*) FILTER (WHERE attributes->>'std' IS NOT NULL), "
        "count(*) FILTER (WHERE json_array_length(attributes->'raw_ratings') = 20) FROM reviews"
    ).fetchone()
    assert n_joined == n_twenty == 3708


@needs_data
def test_first_lines_and_quoted_text(ingested):
    ws, _ = ingested
    first = ws.df("reviews", where="review_id = '1_1'").iloc[0]
    assert first.sentiment == -0.9
    assert first.text == "troubleshooting ad-2500 and ad-2600 no picture scrolling b/w."
    assert json.loads(first.attributes) == {
        "review": "1",
        "std": 0.76811,
        "raw_ratings": [0, -1, 0, 0, -1, -2, 0, -2, 0, -2, -1, 0, -1, -2, -1, -1, -1, -2, 0, -1],
    }
    quoted = ws.df("reviews", where="review_id = '2_20'").iloc[0]
    assert quoted.text == 'update: the finish is more " mirror " than silver -- and i like it!'
    assert quoted.sentiment == 1.95
    last = ws.df("reviews", where="review_id = '309_8'").iloc[0]
    assert last.text.endswith("i'm out $ 300 for their piece of junk.")  # no trailing CR
    lo, hi = ws.con.execute("SELECT min(sentiment), max(sentiment) FROM reviews").fetchone()
    assert (lo, hi) == (-3.7, 3.85)
    assert (
        ws.con.execute("SELECT count(*) FROM reviews WHERE rating IS NOT NULL").fetchone()[0] == 0
    )


@needs_data
def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    before = ws.count("reviews")
    (rep,) = ws.ingest_dataset("vader-snippets")
    assert rep.skipped and ws.count("reviews") == before


@needs_data
def test_ground_truth_alone_still_loads(tmp_path):
    shutil.copy(LOADER.locate() / TRUTH, tmp_path / TRUTH)  # a temp copy, removed by pytest
    with Workspace(":memory:") as ws:
        (rep,) = ws.ingest_dataset("vader-snippets", path=tmp_path)
        assert rep.rows_accepted == 3708
        attrs = json.loads(ws.df("reviews", where="review_id = '1_1'").attributes.iloc[0])
        assert attrs == {"review": "1"}


def test_bom_quotes_and_repeated_ratings(tmp_path):
    (tmp_path / TRUTH).write_bytes(b'1_1\t-0.5\tit is " meh " at best\r\n1_2\t2.0\tgreat\r\n')
    # BOM before the first id, and 1_1 rated twice: still one snippet each
    (tmp_path / RATINGS).write_bytes(
        "\ufeff1_1\t-0.5\t0.5\t[0, -1]\n1_1\t-0.5\t0.9\t[1, -2]\n1_2\t2.0\t0.0\t[2, 2]\n".encode()
    )
    with Workspace(":memory:") as ws:
        (rep,) = ws.ingest_dataset("vader-snippets", path=tmp_path)
        assert (rep.rows_read, rep.rows_accepted) == (2, 2)
        got = {
            r.review_id: (r.sentiment, r.text, json.loads(r.attributes))
            for r in ws.df("reviews").itertuples()
        }
        assert got == {
            "1_1": (
                -0.5,
                'it is " meh " at best',
                {"review": "1", "std": 0.5, "raw_ratings": [0, -1]},
            ),
            "1_2": (2.0, "great", {"review": "1", "std": 0.0, "raw_ratings": [2, 2]}),
        }
