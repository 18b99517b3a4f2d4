"""CDNOW (Fader & Hardie): purchases of the 23,570 customers whose first CDNOW order was in Q1 1997.

Two loaders of the same transaction log, 1997-01-01 .. 1998-06-30 (whitespace-separated text):

- ``cdnow``: ``CDNOW_master.txt`` (header ``customer_id date number_of_cds dollar_value``),
  69,659 transactions;
- ``cdnow-sample``: ``CDNOW_sample.txt`` (no header: master customer id, sample id 1..2357,
  date, CDs, dollars), the 6,919 transactions of a 1/10 sample of customers on which the
  BG/NBD and Gamma-Gamma papers (and lifetimes' ``cdnow_customers_summary``) calibrate.

Each transaction becomes an ``orders`` line (there are no products, so ``item_id`` is NULL):
``order_id`` = ``<customer>-<YYYYMMDD>-<n>`` with ``n`` numbering a customer's transactions
of one day in file order (2,068 master lines are a customer's second or later that day),
``line`` 1, ``ts`` = the day (00:00 UTC), ``quantity`` = number of CDs, ``unit_price`` =
dollar value / CDs (NULL when a line has no CDs), ``currency`` USD, ``status`` completed and
``attributes`` = ``{"dollar_value": ..}`` (80 transactions are worth $0.00).

Customer ids keep the file's zero-padding (``00001``) and are the master's ids in both loaders,
so the sample's orders are the master's orders (same ids; in one workspace they are
duplicates, not new rows); the sample id is kept in the orders' and users' ``attributes``
(``sample_id``, an integer). A line with a field too many or too few is quarantined.

``users`` are derived: ``signup_ts`` = the customer's first purchase, which by the cohort's
definition is their first order at CDNOW.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, const, read_lines
from shopml.data.loaders.base import Loader

MASTER = "CDNOW_master.txt"
SAMPLE = "CDNOW_sample.txt"
_LIFETIMES = (
    "https://raw.githubusercontent.com/CamDavidsonPilon/lifetimes/master/lifetimes/datasets/"
)


def _orders(
    n_fields: int, customer: str, day: str, cds: str, dollars: str, sample_id: str | None
) -> Mapping:
    """Order lines from SQL expressions for the fields of a split line of ``n_fields`` fields."""
    attrs = f"'dollar_value', TRY_CAST({dollars} AS DOUBLE)"
    if sample_id is not None:
        attrs += f", 'sample_id', TRY_CAST({sample_id} AS INTEGER)"
    return Mapping(
        "orders",
        {
            # no id, so the line is quarantined (raw text kept), when it has a field too many
            # or too few: its fields could not be told apart
            "order_id": Col(
                f"CASE WHEN len(f) = {n_fields} THEN {customer} || '-' || {day} || '-' || "
                f"row_number() OVER (PARTITION BY {customer}, {day} ORDER BY _row) END"
            ),
            "line": const(1),
            "user_id": Col(customer),
            "ts": Col(day, parse="%Y%m%d"),
            "quantity": Col(cds),
            # a line with 0 CDs has no unit price (its value stays in attributes)
            "unit_price": Col(
                f"TRY_CAST({dollars} AS DOUBLE) / NULLIF(TRY_CAST({cds} AS DOUBLE), 0)"
            ),
            "currency": const("USD"),
            "status": const("completed"),
            "attributes": Col(f"json_object({attrs})"),
        },
    )


def _users(with_sample_id: bool) -> Mapping:
    attrs = (
        "json_object('sample_id', any_value(TRY_CAST(attributes->>'sample_id' AS INTEGER)))"
        if with_sample_id
        else "NULL"
    )
    return Mapping(
        "users",
        {},
        select=(
            f"SELECT user_id, min(ts) AS signup_ts, NULL AS country, {attrs} AS attributes "
            "FROM _accepted WHERE user_id IS NOT NULL GROUP BY user_id"
        ),
    )


def _reader(path: Path, header: str | None) -> str:
    """The file's lines split on runs of whitespace into the list ``f`` (1-based fields).

    The header line, when the file has one, is dropped so row numbers count data lines.
    """
    split = "regexp_split_to_array(trim(line), '\\s+')"
    skip = f"WHERE NOT starts_with(trim(line), '{header}')" if header else ""
    return f"(SELECT {split} AS f, line FROM {read_lines(path)} {skip})"


class CDNow(Loader):
    name = "cdnow"
    folder = "cdnow"
    files = (MASTER,)
    description = (
        "CDNOW: 69,659 CD purchases of 23,570 customers, 1997-01 .. 1998-06 (orders, users)"
    )
    urls = {MASTER: _LIFETIMES + MASTER}

    def sources(self, folder: Path) -> list[Source]:
        orders = _orders(4, "f[1]", "f[2]", "f[3]", "f[4]", None)
        return [
            Source(
                name=f"{self.name}:{MASTER}",
                path=folder / MASTER,
                reader=_reader(folder / MASTER, "customer_id"),
                mapping=orders,
                derived=(_users(False),),
                loader=self.name,
            )
        ]


class CDNowSample(Loader):
    name = "cdnow-sample"
    folder = "cdnow"
    files = (SAMPLE,)
    description = "CDNOW 1/10 sample: 6,919 purchases of 2,357 customers, the CLV papers' calibration set (orders, users)"
    urls = {SAMPLE: _LIFETIMES + SAMPLE}

    def sources(self, folder: Path) -> list[Source]:
        orders = _orders(5, "f[1]", "f[3]", "f[4]", "f[5]", "f[2]")
        return [
            Source(
                name=f"{self.name}:{SAMPLE}",
                path=folder / SAMPLE,
                reader=_reader(folder / SAMPLE, None),
                mapping=orders,
                derived=(_users(True),),
                loader=self.name,
            )
        ]
