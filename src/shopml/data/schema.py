"""The canonical tables of a shop (DESIGN.md §2) as Arrow schemas plus their rules.

Each :class:`Table` carries its Arrow schema (the contract for anything that reads or writes
it), its key (rows whose key is already present are quarantined as duplicates), the columns a
row cannot do without, and row checks (SQL over the typed columns, each with the reason a row
failing it is quarantined under). The DuckDB DDL of the workspace is generated from here, so
there is one definition of every table.

Conventions: ids are strings; times are UTC (``timestamp[us, UTC]``, DuckDB ``TIMESTAMPTZ``);
money is float64 in the shop's currency, with the ISO code in ``currency``; free-form extra
fields go to ``attributes`` as a JSON object string.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pyarrow as pa

TS = pa.timestamp("us", tz="UTC")
JSON = pa.string()  # a JSON object serialised as text; DuckDB type JSON

EVENT_TYPES = (
    "view",
    "click",
    "add_to_cart",
    "remove_from_cart",
    "purchase",
    "search",
    "rating",
    "wishlist",
)
ORDER_STATUSES = ("completed", "cancelled", "returned")


@dataclass(frozen=True)
class Table:
    """One canonical table: schema, key, required columns and row checks."""

    name: str
    schema: pa.Schema
    key: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    # (reason, SQL predicate that is TRUE for a *bad* row), evaluated on typed columns
    checks: tuple[tuple[str, str], ...] = ()
    json_columns: tuple[str, ...] = field(default=())
    doc: str = ""

    @property
    def columns(self) -> list[str]:
        return list(self.schema.names)


def _s(*fields: tuple[str, pa.DataType]) -> pa.Schema:
    return pa.schema([pa.field(n, t) for n, t in fields])


def _in(col: str, values: tuple[str, ...]) -> str:
    quoted = ", ".join(f"'{v}'" for v in values)
    return f"{col} IS NOT NULL AND {col} NOT IN ({quoted})"


TABLES: dict[str, Table] = {
    t.name: t
    for t in [
        Table(
            "items",
            _s(
                ("item_id", pa.string()),
                ("title", pa.string()),
                ("description", pa.string()),
                ("category", pa.string()),
                ("brand", pa.string()),
                ("price", pa.float64()),
                ("currency", pa.string()),
                ("attributes", JSON),
                ("image_path", pa.string()),
            ),
            key=("item_id",),
            required=("item_id",),
            checks=(("negative price", "price < 0"),),
            json_columns=("attributes",),
            doc="The catalogue: one row per product.",
        ),
        Table(
            "users",
            _s(
                ("user_id", pa.string()),
                ("signup_ts", TS),
                ("country", pa.string()),
                ("attributes", JSON),
            ),
            key=("user_id",),
            required=("user_id",),
            json_columns=("attributes",),
            doc="Customers: one row per account.",
        ),
        Table(
            "events",
            _s(
                ("event_id", pa.string()),
                ("user_id", pa.string()),
                ("session_id", pa.string()),
                ("item_id", pa.string()),
                ("ts", TS),
                ("event_type", pa.string()),
                ("quantity", pa.float64()),
                ("price", pa.float64()),
                ("query", pa.string()),
                ("attributes", JSON),
            ),
            key=("event_id",),
            required=("ts", "event_type"),
            checks=(
                ("unknown event_type", _in("event_type", EVENT_TYPES)),
                ("missing user_id and session_id", "user_id IS NULL AND session_id IS NULL"),
                ("negative price", "price < 0"),
            ),
            json_columns=("attributes",),
            doc="Behaviour: views, clicks, carts, purchases, searches, ratings. "
            "event_id is optional; when given it is the dedup key (feedback uses it).",
        ),
        Table(
            "orders",
            _s(
                ("order_id", pa.string()),
                ("line", pa.int32()),
                ("user_id", pa.string()),
                ("ts", TS),
                ("item_id", pa.string()),
                ("quantity", pa.float64()),
                ("unit_price", pa.float64()),
                ("currency", pa.string()),
                ("status", pa.string()),
                ("attributes", JSON),
            ),
            key=("order_id", "line"),
            required=("order_id", "ts", "status"),
            checks=(
                ("unknown status", _in("status", ORDER_STATUSES)),
                ("negative price", "unit_price < 0"),
                ("negative quantity", "quantity < 0"),
            ),
            json_columns=("attributes",),
            doc="Order lines. user_id NULL = anonymous order. Quantities are positive; "
            "cancellations and returns are told by status.",
        ),
        Table(
            "reviews",
            _s(
                ("review_id", pa.string()),
                ("user_id", pa.string()),
                ("item_id", pa.string()),
                ("ts", TS),
                ("rating", pa.float64()),
                ("sentiment", pa.float64()),
                ("title", pa.string()),
                ("text", pa.string()),
                ("attributes", JSON),
            ),
            key=("review_id",),
            required=("review_id",),
            checks=(("missing text and rating", "text IS NULL AND rating IS NULL AND sentiment IS NULL"),),
            json_columns=("attributes",),
            doc="Reviews: stars in rating, human-judged sentiment (source scale) in sentiment.",
        ),
        Table(
            "support_messages",
            _s(
                ("message_id", pa.string()),
                ("user_id", pa.string()),
                ("ts", TS),
                ("text", pa.string()),
                ("intent", pa.string()),
                ("category", pa.string()),
                ("answer", pa.string()),
                ("attributes", JSON),
            ),
            key=("message_id",),
            required=("message_id", "text"),
            json_columns=("attributes",),
            doc="Customer-service messages with intent labels and answers where known.",
        ),
        Table(
            "impressions",
            _s(
                ("impression_id", pa.string()),
                ("ts", TS),
                ("user_id", pa.string()),
                ("context", JSON),
                ("action", pa.string()),
                ("position", pa.int32()),
                ("reward", pa.float64()),
                ("propensity", pa.float64()),
                ("policy", pa.string()),
                ("campaign", pa.string()),
            ),
            key=("impression_id",),
            required=("impression_id", "action"),
            checks=(("propensity outside (0, 1]", "propensity <= 0 OR propensity > 1"),),
            json_columns=("context",),
            doc="Logged decisions of an allocation policy, with the propensity of the logged action.",
        ),
        Table(
            "prices",
            _s(
                ("item_id", pa.string()),
                ("date", pa.date32()),
                ("price", pa.float64()),
                ("currency", pa.string()),
                ("attributes", JSON),
            ),
            key=("item_id", "date"),
            required=("item_id", "date", "price"),
            checks=(("negative price", "price < 0"),),
            json_columns=("attributes",),
            doc="Price history per item and date (competitor prices in attributes).",
        ),
        Table(
            "inventory",
            _s(("item_id", pa.string()), ("date", pa.date32()), ("on_hand", pa.float64())),
            key=("item_id", "date"),
            required=("item_id", "date", "on_hand"),
            doc="Stock on hand per item and date.",
        ),
        Table(
            "sales",
            _s(
                ("item_id", pa.string()),
                ("date", pa.date32()),
                ("quantity", pa.float64()),
                ("revenue", pa.float64()),
                ("attributes", JSON),
            ),
            key=("item_id", "date"),
            required=("item_id", "date", "quantity"),
            checks=(("negative quantity", "quantity < 0"),),
            json_columns=("attributes",),
            doc="Sales already aggregated per item and period (when a shop only exports those).",
        ),
        Table(
            "relevance_judgements",
            _s(
                ("judgement_id", pa.string()),
                ("query", pa.string()),
                ("item_id", pa.string()),
                ("relevance", pa.float64()),
            ),
            key=("judgement_id",),
            required=("judgement_id", "query", "item_id", "relevance"),
            doc="Human relevance of an item for a search query.",
        ),
        Table(
            "labels",
            _s(
                ("entity", pa.string()),
                ("entity_id", pa.string()),
                ("name", pa.string()),
                ("value", pa.float64()),
                ("ts", TS),
            ),
            key=("entity", "entity_id", "name"),
            required=("entity", "entity_id", "name", "value"),
            doc="Known outcomes (fraud flags, simulator ground truth) about an order, user, ...",
        ),
    ]
}

QUARANTINE = _s(
    ("source", pa.string()),
    ("table_name", pa.string()),
    ("row_number", pa.int64()),
    ("raw", pa.string()),
    ("reason", pa.string()),
    ("ingested_at", TS),
)

INGEST_LOG = _s(
    ("source", pa.string()),
    ("loader", pa.string()),
    ("path", pa.string()),
    ("fingerprint", pa.string()),
    ("rows_read", pa.int64()),
    ("rows_accepted", pa.int64()),
    ("rows_quarantined", pa.int64()),
    ("tables", pa.string()),
    ("started_at", TS),
    ("seconds", pa.float64()),
)


def table(name: str) -> Table:
    """The canonical table called ``name``; raises with the list of known tables otherwise."""
    try:
        return TABLES[name]
    except KeyError:
        from shopml.core.errors import ValidationError

        raise ValidationError(f"unknown table {name!r}; expected one of {sorted(TABLES)}") from None


_DUCK = {
    pa.string(): "VARCHAR",
    pa.float64(): "DOUBLE",
    pa.int32(): "INTEGER",
    pa.int64(): "BIGINT",
    pa.date32(): "DATE",
    TS: "TIMESTAMPTZ",
    pa.bool_(): "BOOLEAN",
}


def duckdb_type(t: pa.DataType) -> str:
    """DuckDB column type for an Arrow type used in the schemas."""
    return _DUCK[t]


def ddl(name: str, schema: pa.Schema) -> str:
    """``CREATE TABLE IF NOT EXISTS`` statement for a schema."""
    cols = ", ".join(f'"{f.name}" {duckdb_type(f.type)}' for f in schema)
    return f'CREATE TABLE IF NOT EXISTS "{name}" ({cols})'
