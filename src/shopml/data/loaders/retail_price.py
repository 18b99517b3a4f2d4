"""Retail Price Optimization (Kaggle, built from Olist): monthly price, quantity and competitor prices.

Each line of ``retail_price.csv`` is one product-month and becomes a ``sales`` row: ``item_id`` =
``product_id`` (e.g. ``bed1``), ``date`` = ``month_year`` (``DD/MM/YYYY``, always the 1st of the
month), ``quantity`` = ``qty``, ``revenue`` = ``total_price`` and ``attributes`` holding the rest
as numbers (``unit_price``, ``freight_price``, ``customers``, ``lag_price``, ``product_score``,
competitor prices ``comp_1..3``, their scores ``ps1..3`` and freight ``fp1..3``, calendar counts
``weekday, weekend, holiday`` and the undocumented ``s``). Derived from the accepted rows:
``prices`` (``price`` = ``unit_price`` in BRL, competitor prices and freight in ``attributes``)
and the catalogue ``items`` (``category`` = ``product_category_name``, ``price`` = the latest
month's unit price, product dimensions in ``attributes``).
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, col, read_csv
from shopml.data.loaders.base import Loader

FILE = "retail_price.csv"
_SALES_ATTRS = (
    "unit_price", "freight_price", "customers", "lag_price", "product_score",
    "comp_1", "ps1", "fp1", "comp_2", "ps2", "fp2", "comp_3", "ps3", "fp3",
    "weekday", "weekend", "holiday", "s",
)  # fmt: skip
_PRODUCT_ATTRS = (
    "product_name_lenght", "product_description_lenght", "product_photos_qty",
    "product_weight_g", "volume",
)  # fmt: skip


def _numbers(names: tuple[str, ...], prefix: str = "") -> str:
    """``json_object`` of the named text columns as numbers (NULL where not a number)."""
    pairs = ", ".join(f"'{n}', TRY_CAST({prefix}{n} AS DOUBLE)" for n in names)
    return f"json_object({pairs})"


class RetailPrice(Loader):
    name = "retail-price"
    folder = "retail_price_optimization"
    files = (FILE,)
    description = "Retail price optimisation: 676 product-months with competitor prices (sales, prices, items)"
    urls = {
        FILE: "https://raw.githubusercontent.com/HiNacho/price_optimization_model/"
        f"cb414b61378a67d9437423b68f8c24ca9575afae/{FILE}"
    }

    def sources(self, folder: Path) -> list[Source]:
        sales = Mapping(
            "sales",
            {
                "item_id": col("product_id"),
                "date": col("month_year", parse="%d/%m/%Y"),
                "quantity": col("qty"),
                "revenue": col("total_price"),
                "attributes": Col(_numbers(_SALES_ATTRS)),
            },
        )
        competitors = ("comp_1", "comp_2", "comp_3", "freight_price", "fp1", "fp2", "fp3")
        prices = Mapping(
            "prices",
            {},
            select=(
                "SELECT a.item_id, a.date, TRY_CAST(s.unit_price AS DOUBLE) AS price, "
                f"'BRL' AS currency, {_numbers(competitors, 's.')} AS attributes "
                "FROM _accepted a JOIN _stage s USING (_row)"
            ),
        )
        product_attrs = ", ".join(
            f"'{n.replace('lenght', 'length')}', TRY_CAST(arg_max(s.{n}, a.date) AS DOUBLE)"
            for n in _PRODUCT_ATTRS
        )
        items = Mapping(
            "items",
            {},
            select=(
                "SELECT a.item_id, NULL AS title, NULL AS description, "
                "arg_max(s.product_category_name, a.date) AS category, NULL AS brand, "
                "TRY_CAST(arg_max(s.unit_price, a.date) AS DOUBLE) AS price, 'BRL' AS currency, "
                f"json_object({product_attrs}) AS attributes, NULL AS image_path "
                "FROM _accepted a JOIN _stage s USING (_row) GROUP BY a.item_id"
            ),
        )
        return [
            Source(
                name=f"{self.name}:{FILE}",
                path=folder / FILE,
                reader=read_csv(folder / FILE),
                mapping=sales,
                derived=(prices, items),
                loader=self.name,
            )
        ]
