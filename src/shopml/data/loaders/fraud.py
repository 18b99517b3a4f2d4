"""E-commerce Fraud_Data: one first purchase per new account, labelled fraudulent or not (2015).

``Fraud_Data.csv`` (51,690 rows; the data directory holds ``Fraud_Data_dev.csv``, its earliest
70% by purchase time, and the loader reads that when the full file is absent) becomes:

- ``orders``: one line per row; ``order_id`` = ``user_id`` (each account buys once, so the id
  is unique per row), ``ts`` = ``purchase_time`` (``M/D/YY H:MM``, minute resolution, taken as
  UTC), ``quantity`` 1, ``unit_price`` = ``purchase_value`` (USD), ``status`` completed and
  ``attributes`` = ``{device_id, source, browser}``;
- ``users`` (derived): ``signup_ts`` = ``signup_time``, ``attributes`` = ``{sex, age}``;
- ``labels`` (derived): ``entity 'order'``, ``entity_id`` = the order id, ``name 'is_fraud'``,
  ``value`` = ``class`` (1 fraudulent, 0 not), ``ts`` = the purchase time, the moment the
  outcome refers to.

The provenance of the data is undocumented (a common teaching set); treat it as real-looking.
"""

from __future__ import annotations

from pathlib import Path

from shopml.core.errors import DataError
from shopml.data.ingest import Col, Mapping, Source, col, const, read_csv
from shopml.data.loaders.base import Loader

FULL = "Fraud_Data.csv"
DEV = "Fraud_Data_dev.csv"
TIME = "%m/%d/%y %H:%M"


class Fraud(Loader):
    name = "fraud"
    folder = "ecommerce_fraud_data_subset"
    # either file will do: the full table, or the development part of it
    files = ()
    candidates = (FULL, DEV)
    description = "E-commerce fraud: first purchases of new accounts with a fraud label (orders, users, labels)"
    urls = {
        FULL: "https://raw.githubusercontent.com/revanthsivaraju12/Fraud-data-Detection/"
        "885c3b1f963fbac62e7d5249d01e6e58af9be657/Fraud_Data.csv"
    }

    def locate(self, path: str | Path | None = None) -> Path:
        """The dataset's folder; it must hold ``Fraud_Data.csv`` or ``Fraud_Data_dev.csv``."""
        folder = super().locate(path)
        if not any((folder / f).exists() for f in self.candidates):
            raise DataError(
                f"{self.name}: {folder} lacks {FULL} (or {DEV}); download with "
                f"`shopml datasets --download {self.name}`"
            )
        return folder

    def sources(self, folder: Path) -> list[Source]:
        fname = next((f for f in self.candidates if (folder / f).exists()), None)
        if fname is None:
            raise DataError(f"{self.name}: {folder} lacks {FULL} (or {DEV})")
        orders = Mapping(
            "orders",
            {
                "order_id": col("user_id"),
                "line": const(1),
                "user_id": col("user_id"),
                "ts": col("purchase_time", parse=TIME),
                "quantity": const(1),
                "unit_price": col("purchase_value"),
                "currency": const("USD"),
                "status": const("completed"),
                "attributes": Col(
                    "json_object('device_id', device_id, 'source', source, 'browser', browser)"
                ),
            },
        )
        # the derived select hands over the raw text, so that a bad signup time is quarantined
        # with its reason instead of becoming NULL
        users = Mapping(
            "users",
            {
                "user_id": col("user_id"),
                "signup_ts": col("signup_time", parse=TIME),
                "attributes": col("attributes"),
            },
            select=(
                "SELECT a.user_id, s.signup_time, "
                "json_object('sex', s.sex, 'age', TRY_CAST(s.age AS INTEGER)) AS attributes "
                "FROM _accepted a JOIN _stage s USING (_row)"
            ),
        )
        labels = Mapping(
            "labels",
            {},
            select=(
                "SELECT 'order' AS entity, a.order_id AS entity_id, 'is_fraud' AS name, "
                's."class" AS value, a.ts FROM _accepted a JOIN _stage s USING (_row)'
            ),
        )
        return [
            Source(
                name=f"{self.name}:{fname}",
                path=folder / fname,
                reader=read_csv(folder / fname),
                mapping=orders,
                derived=(users, labels),
                loader=self.name,
            )
        ]
