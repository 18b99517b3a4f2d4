"""DIGINETICA (CIKM Cup 2016): product categories, a sample of item views and all purchases.

Three semicolon-separated sources, catalogue first:

- ``product-categories.csv`` -> ``items`` (``category`` = ``categoryId``; no titles or prices).
- ``sample_train-item-views.csv`` -> ``events`` with ``event_type = 'view'``.
- ``train-purchases.csv`` -> ``events`` with ``event_type = 'purchase'``, ``quantity`` 1 and the
  order number in ``attributes`` (``{"order": "16421", "timeframe": 17100868}``).

``user_id`` is NULL where the file says ``NA`` (anonymous sessions); ``session_id`` is the
session. The data gives no clock time, only ``eventdate`` (the event's day) and ``timeframe``
(milliseconds since the session began; sessions can last weeks). So ``ts`` is the session's
latest start compatible with every event's day, plus ``timeframe``:
``ts = max over the session(eventdate - timeframe) + timeframe``. Every event then lands on its
own ``eventdate`` (true for every row of these files), events of a session keep their order and
spacing, and a session's first event of the day sits at 00:00 or later; the time of day is a
lower bound, not the wall clock. The anchor is computed per file, so a view and a purchase of
one session are ordered by day, not within the day.

``event_id`` keeps re-exports from doubling rows: ``view:<session>:<timeframe>:<item>`` (unique
in the views), and ``purchase:<order>:<item>:<timeframe>:<n>`` where ``n`` numbers the 28
purchase lines that repeat another line exactly (kept, like repeated lines of an invoice).
Users with an id are derived from both event files.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, col, const, read_csv
from shopml.data.loaders.base import Loader

CATEGORIES = "product-categories.csv"
VIEWS = "sample_train-item-views.csv"
PURCHASES = "train-purchases.csv"
_SR_GNN = "https://raw.githubusercontent.com/CRIPAC-DIG/SR-GNN/e21cfa431f74c25ae6e4ae9261deefe11d1cb488/datasets/"
_RECOHUT = "https://raw.githubusercontent.com/RecoHut-Datasets/diginetica/2672053d53bf74e6e8eec77e684e4e7b6bc5da8c/"

_USERS = Mapping(
    "users",
    {},
    select=(
        "SELECT DISTINCT user_id, NULL AS signup_ts, NULL AS country, NULL AS attributes "
        "FROM _accepted WHERE user_id IS NOT NULL"
    ),
)


def _ts(session: str) -> Col:
    """Event time from ``eventdate`` and ``timeframe`` (see the module docstring)."""
    offset = "to_milliseconds(TRY_CAST(timeframe AS BIGINT))"
    day = "TRY_CAST(eventdate AS DATE)"
    start = f"max({day} - {offset}) OVER (PARTITION BY {session})"
    # a field that does not parse is handed on as it is, so the row is quarantined as
    # "unparsable ts: <text>"; '+00': the clock is UTC whatever the connection's time zone
    return Col(
        f"CASE WHEN {day} IS NULL THEN eventdate WHEN {offset} IS NULL THEN timeframe "
        f"ELSE CAST({start} + {offset} AS VARCHAR) || '+00' END"
    )


def _user(column: str) -> Col:
    return Col(f"NULLIF({column}, 'NA')")


class Diginetica(Loader):
    name = "diginetica"
    folder = "diginetica_sample"
    files = (CATEGORIES, VIEWS, PURCHASES)
    description = (
        "DIGINETICA (CIKM Cup 2016): 184,047 categorised items, 12,391 session views (sample), "
        "18,025 purchases (items, events, users)"
    )
    urls = {
        CATEGORIES: _RECOHUT + CATEGORIES,
        VIEWS: _SR_GNN + VIEWS,
        PURCHASES: _RECOHUT + PURCHASES,
    }

    def sources(self, folder: Path) -> list[Source]:
        items = Mapping("items", {"item_id": col("itemId"), "category": col("categoryId")})
        views = Mapping(
            "events",
            {
                "event_id": Col("'view:' || session_id || ':' || timeframe || ':' || item_id"),
                "user_id": _user("user_id"),
                "session_id": col("session_id"),
                "item_id": col("item_id"),
                "ts": _ts("session_id"),
                "event_type": const("view"),
                "attributes": Col("json_object('timeframe', TRY_CAST(timeframe AS BIGINT))"),
            },
        )
        purchase_key = "ordernumber || ':' || itemId || ':' || timeframe"
        purchases = Mapping(
            "events",
            {
                "event_id": Col(
                    f"'purchase:' || {purchase_key} || ':' || "
                    f"row_number() OVER (PARTITION BY {purchase_key} ORDER BY _row)"
                ),
                "user_id": _user("userId"),
                "session_id": col("sessionId"),
                "item_id": col("itemId"),
                "ts": _ts("sessionId"),
                "event_type": const("purchase"),
                "quantity": const(1),
                "attributes": Col(
                    "json_object('order', ordernumber, 'timeframe', TRY_CAST(timeframe AS BIGINT))"
                ),
            },
        )
        return [
            Source(f"{self.name}:{f}", folder / f, read_csv(folder / f, sep=";"), m, d, self.name)
            for f, m, d in (
                (CATEGORIES, items, ()),
                (VIEWS, views, (_USERS,)),
                (PURCHASES, purchases, (_USERS,)),
            )
        ]
