"""UCI Online Retail: a UK gift shop's invoice lines, 2010-12 .. 2011-12.

- Each line becomes an order line (``orders``), keyed by invoice and line number in the invoice.
- Invoices starting with ``C`` are cancellations: status ``cancelled``, quantity made positive.
- Other negative quantities (stock adjustments, damages) become ``returned``.
- Empty CustomerID stays an anonymous order (``user_id`` NULL), not dropped.
- Negative unit prices ("Adjust bad debt") are quarantined by the orders table's check.
- The catalogue (``items``) and customers (``users``) are derived from the accepted lines.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, col, const, read_csv
from shopml.data.loaders.base import Loader

FILE = "online_retail.csv.gz"


class OnlineRetail(Loader):
    name = "online-retail"
    folder = "online_retail_uci"
    files = (FILE,)
    description = "UCI Online Retail: 541,909 invoice lines of a UK gift shop (orders, items, users)"
    urls = {"Online Retail.xlsx": "https://archive.ics.uci.edu/ml/machine-learning-databases/00352/Online%20Retail.xlsx"}

    def sources(self, folder: Path) -> list[Source]:
        qty = "TRY_CAST(Quantity AS DOUBLE)"
        orders = Mapping(
            "orders",
            {
                "order_id": col("InvoiceNo"),
                # line number within the invoice, in file order: the file has true duplicate lines
                "line": Col("row_number() OVER (PARTITION BY InvoiceNo ORDER BY _row)"),
                # '17850.0' -> '17850'
                "user_id": Col("regexp_replace(CustomerID, '\\.0$', '')"),
                "ts": col("InvoiceDate", parse="%Y-%m-%d %H:%M:%S"),
                "item_id": col("StockCode"),
                "quantity": Col(f"CASE WHEN {qty} < 0 THEN CAST(-{qty} AS VARCHAR) ELSE Quantity END"),
                "unit_price": col("UnitPrice"),
                "currency": const("GBP"),
                "status": Col(
                    f"CASE WHEN InvoiceNo LIKE 'C%' THEN 'cancelled' WHEN {qty} < 0 THEN 'returned' "
                    "ELSE 'completed' END"
                ),
                "attributes": Col("json_object('country', Country, 'description', Description)"),
            },
        )
        items = Mapping(
            "items",
            {},
            select=(
                "SELECT item_id, mode(json_extract_string(attributes, '$.description')) AS title, "
                "NULL AS description, NULL AS category, NULL AS brand, "
                "median(unit_price) FILTER (WHERE status = 'completed') AS price, 'GBP' AS currency, "
                "NULL AS attributes, NULL AS image_path "
                "FROM _accepted WHERE item_id IS NOT NULL GROUP BY item_id"
            ),
        )
        users = Mapping(
            "users",
            {},
            select=(
                "SELECT user_id, NULL AS signup_ts, mode(json_extract_string(attributes, '$.country')) AS country, "
                "NULL AS attributes FROM _accepted WHERE user_id IS NOT NULL GROUP BY user_id"
            ),
        )
        return [
            Source(
                name=f"{self.name}:{FILE}",
                path=folder / FILE,
                reader=read_csv(folder / FILE),
                mapping=orders,
                derived=(items, users),
                loader=self.name,
            )
        ]
