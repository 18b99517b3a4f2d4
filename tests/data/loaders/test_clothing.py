import json
from pathlib import Path

import pytest

from shopml.data.images import load_image
from shopml.data.loaders import get_loader
from shopml.data.workspace import Workspace

LOADER = get_loader("clothing-images")
pytestmark = pytest.mark.skipif(
    not LOADER.found(), reason="clothing data not in the data directory"
)


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("clothing-images")
    yield ws, reports
    ws.close()


def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 3409  # lines of labels.csv after the header
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 0
    assert ws.count("items") == 3409
    splits = dict(
        ws.con.execute("SELECT attributes->>'split', count(*) FROM items GROUP BY 1").fetchall()
    )
    assert splits == {"train": 3068, "validation": 341}
    assert ws.con.execute("SELECT count(DISTINCT category) FROM items").fetchone()[0] == 10


def test_first_and_last_lines_map_onto_items(ingested):
    ws, _ = ingested
    first = ws.df("items", where="item_id = '009b3c31-fb62-45c0-be9a-37a5c238cb88'").iloc[0]
    assert first.title == first.category == "dress"
    assert json.loads(first.attributes) == {
        "split": "train",
        "width": 400,
        "height": 533,
        "mode": "RGB",
    }
    expected = (LOADER.locate() / "train/dress/009b3c31-fb62-45c0-be9a-37a5c238cb88.jpg").resolve()
    assert first.image_path == str(expected) and Path(first.image_path).is_absolute()
    last = ws.df("items", where="item_id = 'fd815439-7fee-40c7-8175-2f32596eb578'").iloc[0]
    assert last.category == "t-shirt" and json.loads(last.attributes)["split"] == "validation"


def test_image_paths_resolve_and_decode_to_their_recorded_size(ingested):
    ws, _ = ingested
    paths = ws.df("items").image_path
    assert all(Path(p).is_file() for p in paths)
    row = ws.con.execute(
        "SELECT image_path, (attributes->>'height')::INT, (attributes->>'width')::INT FROM items "
        "WHERE attributes->>'width' = '533' LIMIT 1"
    ).fetchone()
    assert load_image(row[0]).shape == (row[1], row[2], 3)


def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset("clothing-images")
    assert rep.skipped and ws.count("items") == 3409
