import json

import pytest

from shopml.data.loaders import get_loader
from shopml.data.loaders.olist import PRODUCTS, TRANSLATION
from shopml.data.workspace import Workspace

LOADER = get_loader("olist-catalog")
needs_data = pytest.mark.skipif(not LOADER.found(), reason="Olist data not in the data directory")
HEADER = (
    "product_id,product_category_name,product_name_lenght,product_description_lenght,"
    "product_photos_qty,product_weight_g,product_length_cm,product_height_cm,product_width_cm\n"
)


@pytest.fixture(scope="module")
def ingested():
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset("olist-catalog")
    yield ws, reports
    ws.close()


@needs_data
def test_every_line_is_accounted_for(ingested):
    ws, (rep,) = ingested
    assert rep.rows_read == 32952  # product lines after the header
    assert rep.rows_accepted + rep.rows_quarantined == rep.rows_read
    assert rep.rows_quarantined == 0
    assert ws.count("items") == 32952


@needs_data
def test_first_lines_map_onto_items_with_english_categories(ingested):
    ws, _ = ingested
    first = ws.df("items", where="item_id = '1e9e8ef04dbcff4541ed26657ea517e5'").iloc[0]
    assert first.category == "perfumery"
    assert json.loads(first.attributes) == {
        "category_pt": "perfumaria",
        "name_length": 40,
        "description_length": 287,
        "photos_qty": 1,
        "weight_g": 225,
        "length_cm": 16,
        "height_cm": 10,
        "width_cm": 14,
    }
    cats = dict(
        ws.con.execute(
            "SELECT item_id, category FROM items WHERE item_id IN "
            "('3aa071139cb16b67ca9e5dea641aaa2f', '96bd76ec8810374ed1b65e291975717f', "
            "'106392145fca363410d287a815be6de4')"
        ).fetchall()
    )
    assert cats == {
        "3aa071139cb16b67ca9e5dea641aaa2f": "art",
        "96bd76ec8810374ed1b65e291975717f": "sports_leisure",
        "106392145fca363410d287a815be6de4": "bed_bath_table",  # last line of the file
    }
    # the translation's first row (right after its header) is used too
    assert (
        ws.con.execute("SELECT count(*) FROM items WHERE category = 'health_beauty'").fetchone()[0]
        > 0
    )
    # names without a translation keep their Portuguese name; 610 products have no category
    untranslated = dict(
        ws.con.execute(
            "SELECT category, count(*) FROM items WHERE category = attributes->>'category_pt' "
            "AND category IN ('pc_gamer', 'portateis_cozinha_e_preparadores_de_alimentos') GROUP BY 1"
        ).fetchall()
    )
    assert untranslated == {"pc_gamer": 3, "portateis_cozinha_e_preparadores_de_alimentos": 10}
    assert ws.con.execute("SELECT count(*) FROM items WHERE category IS NULL").fetchone()[0] == 610


@needs_data
def test_reingest_adds_nothing(ingested):
    ws, _ = ingested
    (rep,) = ws.ingest_dataset("olist-catalog")
    assert rep.skipped and ws.count("items") == 32952


def test_join_keeps_row_numbers_and_never_multiplies_rows(tmp_path):
    (tmp_path / PRODUCTS).write_text(
        HEADER
        + "p1,artes,1,2,1,10,1,1,1\n"
        + ",artes,1,2,1,10,1,1,1\n"  # no product id: quarantined as line 2
        + "p3,,1,2,1,10,1,1,1\n"
        + "p4,novo,1,2,1,10,1,1,1\n"
    )
    # a name translated twice must not duplicate products
    (tmp_path / TRANSLATION).write_text(
        "product_category_name,product_category_name_english\nartes,art\nartes,arts\n"
    )
    with Workspace(":memory:") as ws:
        (rep,) = ws.ingest_dataset("olist-catalog", path=tmp_path)
        assert (rep.rows_read, rep.rows_accepted, rep.rows_quarantined) == (4, 3, 1)
        q = ws.sql("SELECT row_number, reason FROM quarantine")
        assert q.row_number.tolist() == [2] and q.reason.tolist() == ["missing item_id"]
        cats = dict(ws.con.execute("SELECT item_id, category FROM items").fetchall())
        assert cats["p1"] == "art" and cats["p3"] is None and cats["p4"] == "novo"


def test_products_alone_keep_portuguese_categories(tmp_path):
    (tmp_path / PRODUCTS).write_text(HEADER + "p1,artes,1,2,1,10,1,1,1\n")
    with Workspace(":memory:") as ws:
        (rep,) = ws.ingest_dataset("olist-catalog", path=tmp_path)
        assert rep.rows_accepted == 1
        assert ws.con.execute("SELECT category FROM items").fetchone() == ("artes",)
