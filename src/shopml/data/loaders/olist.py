"""Olist Brazilian e-commerce, catalogue part only: 32,952 products with categories and dimensions.

Each line of ``olist_products_dataset.csv`` becomes an ``items`` row: ``item_id`` = ``product_id``,
``category`` = the English name of ``product_category_name`` from
``product_category_name_translation.csv`` when that file is present and knows the name, else the
Portuguese name (``pc_gamer`` and ``portateis_cozinha_e_preparadores_de_alimentos`` have no
translation; 610 products have no category at all), and ``attributes`` = the Portuguese category
and the product's numbers: name and description length, photo count, weight (g), length,
height and width (cm); the file's misspelt ``lenght`` columns are renamed ``length``. There is no
title, brand or price. ``olist_sellers_dataset.csv`` is not ingested: the canonical tables have no
place for sellers, and without the order tables (missing from this copy) nothing links a seller
to a product. A re-ingest is decided by the products file's content alone.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, read_csv, sql_str
from shopml.data.loaders.base import Loader

BASE = (
    "https://raw.githubusercontent.com/keyvantaj/e_com_brazil/"
    "7f0afddc58aa7493421035b46dc73de1b1190f89/data/"
)
PRODUCTS = "olist_products_dataset.csv"
TRANSLATION = "product_category_name_translation.csv"
_NUMBERS = {
    "name_length": "product_name_lenght",
    "description_length": "product_description_lenght",
    "photos_qty": "product_photos_qty",
    "weight_g": "product_weight_g",
    "length_cm": "product_length_cm",
    "height_cm": "product_height_cm",
    "width_cm": "product_width_cm",
}


def _translation_relation(path: Path) -> str:
    """Portuguese -> English category names, one row per name.

    A name given twice takes the alphabetically first translation, so the result never depends
    on scan order. Read without a rejects table (the products file's is the one the engine
    counts): a line DuckDB cannot read fails the ingest instead of leaving categories silently
    untranslated.
    """
    csv = (
        f"read_csv({sql_str(str(path))}, header=true, all_varchar=true, strict_mode=true, "
        "columns={'t_pt': 'VARCHAR', 't_en': 'VARCHAR'}, auto_detect=false)"
    )
    return f"(SELECT t_pt, min(t_en) AS t_en FROM {csv} GROUP BY t_pt)"


class OlistCatalog(Loader):
    name = "olist-catalog"
    folder = "olist_partial"
    files = (PRODUCTS,)
    description = "Olist catalogue: 32,952 products with categories and dimensions (items)"
    urls = {PRODUCTS: BASE + PRODUCTS, TRANSLATION: BASE + TRANSLATION}

    def sources(self, folder: Path) -> list[Source]:
        products = read_csv(folder / PRODUCTS)
        if (folder / TRANSLATION).exists():
            # the explicit order keeps staged row numbers equal to the products file's lines
            reader = (
                "(SELECT p.* EXCLUDE (_n), t.t_en AS product_category_name_english "
                f"FROM (SELECT row_number() OVER () AS _n, * FROM {products}) p "
                f"LEFT JOIN {_translation_relation(folder / TRANSLATION)} t "
                "ON t.t_pt = p.product_category_name ORDER BY p._n)"
            )
            category = "coalesce(product_category_name_english, product_category_name)"
        else:
            reader = products
            category = "product_category_name"
        numbers = ", ".join(f"'{k}', TRY_CAST({v} AS DOUBLE)" for k, v in _NUMBERS.items())
        items = Mapping(
            "items",
            {
                "item_id": Col("product_id"),
                "category": Col(category),
                "attributes": Col(f"json_object('category_pt', product_category_name, {numbers})"),
            },
        )
        return [
            Source(
                name=f"{self.name}:{PRODUCTS}",
                path=folder / PRODUCTS,
                reader=reader,
                mapping=items,
                loader=self.name,
            )
        ]
