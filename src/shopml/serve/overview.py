"""What the dashboard shows: the workspace, the registry, benchmark leaderboards, one customer and
one product, read-only, as Pydantic bodies.

Everything here reads: the workspace through a short-lived read-only connection
(:func:`~shopml.serve.workspace_io.open_workspace`, so the feedback writer of another process is
never blocked for long), the registry's meta.json files and the benchmark result files
(``bench/results/*.json`` written by ``shopml bench``). Nothing is invented: a capability without a
model or an endpoint is reported as absent, and the pages say so.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, Field

from shopml.registry import Registry
from shopml.serve.settings import ServeSettings
from shopml.serve.state import Snapshot
from shopml.serve.workspace_io import open_workspace

#: how many example customers and products the overview proposes to the pages
EXAMPLES = 5
#: at most this many days of daily activity are returned (the most recent ones)
MAX_DAYS = 400


# --------------------------------------------------------------------------- bodies
class TableInfo(BaseModel):
    name: str
    rows: int
    time_range: list[str] | None = Field(None, description="First and last timestamp (ISO 8601).")


class Quarantine(BaseModel):
    rows: int
    by_reason: dict[str, dict[str, int]] = Field(description="Quarantined rows per table and rule.")


class Series(BaseModel):
    """Counts per day, one list per kind (e.g. per event type), aligned with ``dates``."""

    dates: list[str]
    counts: dict[str, list[float]]
    source: str = Field(
        "events", description="Where the counts come from: events, or orders when the shop "
        "records no events (an order export)."
    )
    unit: str = Field("events", description="What is counted (events, order lines, units).")


class CapabilityStatus(BaseModel):
    """Whether a capability can run on this workspace (``shopml doctor``)."""

    name: str
    summary: str
    ok: bool
    missing: list[str] = Field(description="What data is missing, one sentence per need.")


class ModelInfo(BaseModel):
    capability: str
    name: str
    latest: str
    versions: list[str]
    created: str
    metrics: dict[str, Any]
    config: dict[str, Any]
    loaded_version: str | None = Field(
        None, description="The version this server process serves (null: not loaded)."
    )


class Serving(BaseModel):
    ready: bool
    generation: int
    loaded_at: str | None
    models: dict[str, str]
    default_recommender: str | None
    search_items: int | None
    errors: list[str]


class Overview(BaseModel):
    """The shop at a glance: workspace tables, quarantine, activity, models, what is served."""

    workspace: str
    tables: list[TableInfo]
    quarantine: Quarantine
    activity: Series = Field(description="Events per day and type (order lines per day and status "
                             "when the shop records no events).")
    capabilities: list[CapabilityStatus] = Field(
        default_factory=list, description="What this workspace can run, and what each "
        "capability that cannot is missing (shopml doctor)."
    )
    capability_errors: list[str] = Field(
        default_factory=list, description="Capability specs that could not be loaded."
    )
    models: list[ModelInfo]
    serving: Serving
    endpoints: list[str] = Field(description="GET/POST paths of the API this server offers.")
    example_users: list[str] = Field(description="Customers with the most events (or orders).")
    example_items: list[str] = Field(description="Items with the most events (or order lines).")


class LeaderRow(BaseModel):
    model: str
    peer: bool
    metrics: dict[str, float | None]
    fit_seconds: float | None = None
    predict_seconds: float | None = None


class Leaderboard(BaseModel):
    """One benchmark result file: models compared on one dataset under one protocol."""

    file: str
    capability: str
    dataset: str
    created: str | None
    protocol: str | None
    rows: list[LeaderRow]


class Leaderboards(BaseModel):
    folder: str | None = Field(description="Where the results were read (null: no folder).")
    boards: list[Leaderboard]
    skipped: list[str] = Field(description="Files that are not leaderboards or not readable.")


class EventRow(BaseModel):
    ts: str | None
    event_type: str
    item_id: str | None
    title: str | None
    quantity: float | None
    price: float | None
    query: str | None


class CustomerProfile(BaseModel):
    """A customer's recorded history in the workspace (not a model output)."""

    user_id: str
    known: bool = Field(description="The workspace has events, orders or a users row for them.")
    signup_ts: str | None
    country: str | None
    events: int
    first_seen: str | None
    last_seen: str | None
    orders: int
    completed_spend: float
    events_by_type: dict[str, int]
    recent: list[EventRow] = Field(
        description="The most recent events, newest first (order lines when the shop records "
        "no events: event_type 'order (<status>)')."
    )
    activity: Series


class ReviewStats(BaseModel):
    reviews: int
    mean_rating: float | None
    recent: list[dict[str, Any]]


class ProductProfile(BaseModel):
    """A product's catalogue entry and recorded activity (not a model output)."""

    item_id: str
    known: bool
    title: str | None
    description: str | None
    category: str | None
    brand: str | None
    price: float | None
    currency: str | None
    events_by_type: dict[str, int]
    units_sold: float
    orders: int = Field(0, description="Orders with a line of this item (any status).")
    first_sold: str | None = None
    last_sold: str | None = None
    activity: Series = Field(description="Events per day and type for this item (units per day "
                             "and order status when the shop records no events).")
    reviews: ReviewStats


# --------------------------------------------------------------------------- helpers
def _iso(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return pd.Timestamp(value).isoformat()
    return str(value)


def _num(value: Any) -> float | None:
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _str(value: Any) -> str | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else str(value)


def _series(
    frame: pd.DataFrame, kind: str = "event_type", source: str = "events", unit: str = "events"
) -> Series:
    """``(day, kind, n)`` rows as aligned daily lists, the last :data:`MAX_DAYS` days with data."""
    if not len(frame):
        return Series(dates=[], counts={}, source=source, unit=unit)
    wide = frame.pivot_table(index="day", columns=kind, values="n", aggfunc="sum", fill_value=0)
    wide = wide.sort_index().iloc[-MAX_DAYS:]
    return Series(
        dates=[pd.Timestamp(d).date().isoformat() for d in wide.index],
        counts={str(c): wide[c].astype(float).tolist() for c in wide.columns},
        source=source,
        unit=unit,
    )


# order lines per day and status: a shop that exports orders and no events still has a history
ORDER_ACTIVITY = (
    "SELECT CAST(ts AS DATE) AS day, status AS event_type, {value} AS n FROM orders "
    "WHERE ts IS NOT NULL AND status IS NOT NULL {filter} GROUP BY 1, 2"
)


def _activity(ws: Any, column: str | None = None, value: str | None = None,
              units: bool = False) -> Series:
    """Events per day and type for everything, one ``column = value``; orders when no events."""
    where, params = ("", []) if column is None else (f"AND {column} = ?", [value])
    events = ws.sql(
        "SELECT CAST(ts AS DATE) AS day, event_type, count(*) AS n FROM events "
        f"WHERE ts IS NOT NULL {where} GROUP BY 1, 2",
        params,
    )
    if len(events) or (column is not None and _has_events(ws, column, value)):
        return _series(events)
    measure = "coalesce(sum(quantity), 0)" if units else "count(*)"
    orders = ws.sql(ORDER_ACTIVITY.format(value=measure, filter=where), params)
    return _series(orders, source="orders", unit="units" if units else "order lines")


def _has_events(ws: Any, column: str, value: str | None) -> bool:
    """Whether the entity has events at all (undated ones count: then orders are not shown)."""
    n = ws.sql(f"SELECT count(*) AS n FROM events WHERE {column} = ?", [value])["n"].iloc[0]
    return bool(n)


def capability_status(ws: Any) -> tuple[list[CapabilityStatus], list[str]]:
    """What the workspace can run (``shopml doctor``), and specs that could not be loaded."""
    from shopml.capabilities import specs
    from shopml.data.doctor import doctor

    try:
        found = specs()
    except Exception as exc:  # noqa: BLE001 - a broken spec must not take the overview down
        return [], [f"{type(exc).__name__}: {exc}"]
    out = [
        CapabilityStatus(name=f.name, summary=f.summary, ok=f.ok,
                         missing=f.missing or ([f.error] if f.error else []))
        for f in doctor(ws, found)
    ]
    return out, []


# --------------------------------------------------------------------------- overview
def overview(settings: ServeSettings, snap: Snapshot | None, endpoints: list[str]) -> Overview:
    """Workspace tables and activity, registry models, and what this process serves."""
    with open_workspace(settings.workspace, read_only=True) as ws:
        info = ws.info()
        activity = _activity(ws)
        found, spec_errors = capability_status(ws)
        users = _most_active(ws, "user_id")
        items = _most_active(ws, "item_id")
    tables = [
        TableInfo(name=name, rows=t["rows"], time_range=t.get("time_range"))
        for name, t in info["tables"].items()
    ]
    return Overview(
        workspace=str(settings.workspace),
        tables=tables,
        quarantine=Quarantine(**info["quarantine"]),
        activity=activity,
        capabilities=found,
        capability_errors=spec_errors,
        models=registered_models(settings.registry, snap),
        serving=serving(snap),
        endpoints=endpoints,
        example_users=users,
        example_items=items,
    )


def _most_active(ws: Any, column: str) -> list[str]:
    """The ids with the most events; with the most order lines when there are no events."""
    for tbl in ("events", "orders"):
        top = ws.sql(
            f"SELECT {column} FROM {tbl} WHERE {column} IS NOT NULL "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {EXAMPLES}"
        )
        if len(top):
            return top[column].astype(str).tolist()
    return []


def serving(snap: Snapshot | None) -> Serving:
    if snap is None:
        return Serving(
            ready=False,
            generation=0,
            loaded_at=None,
            models={},
            default_recommender=None,
            search_items=None,
            errors=["models not loaded yet"],
        )
    return Serving(
        ready=snap.ready,
        generation=snap.generation,
        loaded_at=dt.datetime.fromtimestamp(snap.loaded_at, dt.UTC).isoformat(timespec="seconds"),
        models=snap.versions(),
        default_recommender=snap.default_recommender,
        search_items=next((len(s.obj.items_) for s in snap.served("search").values()), None),
        errors=list(snap.errors),
    )


def registered_models(root: Path, snap: Snapshot | None) -> list[ModelInfo]:
    """The latest version of every registered model, its versions, metrics and config."""
    registry = Registry(root)
    loaded = snap.registry_versions() if snap is not None else {}
    out = []
    for mv in registry.list():
        versions = [v.version for v in registry.versions(mv.capability, mv.name)]
        out.append(
            ModelInfo(
                capability=mv.capability,
                name=mv.name,
                latest=mv.version,
                versions=versions,
                created=mv.created or "",
                metrics=_plain(mv.metrics or {}),
                config=_plain(mv.config or {}),
                loaded_version=loaded.get(f"{mv.capability}/{mv.name}"),
            )
        )
    return out


def _plain(value: Any) -> Any:
    """JSON values with non-finite numbers as null (they are not valid JSON)."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


# --------------------------------------------------------------------------- leaderboards
def leaderboards(folder: Path | None) -> Leaderboards:
    """Every ``*.json`` benchmark result in ``folder`` that has comparison rows."""
    if folder is None or not Path(folder).is_dir():
        return Leaderboards(folder=None if folder is None else str(folder), boards=[], skipped=[])
    boards, skipped = [], []
    for path in sorted(Path(folder).glob("*.json")):
        try:
            data = json.loads(path.read_text())
            rows = data["rows"]
            board = Leaderboard(
                file=path.name,
                capability=str(data["capability"]),
                dataset=str(data["dataset"]),
                created=_str(data.get("created")),
                protocol=_str(data.get("protocol")),
                rows=[
                    LeaderRow(
                        model=str(r["model"]),
                        peer=bool(r.get("peer", False)),
                        metrics={str(k): _num(v) for k, v in (r.get("metrics") or {}).items()},
                        fit_seconds=_num(r.get("fit_seconds")),
                        predict_seconds=_num(r.get("predict_seconds")),
                    )
                    for r in rows
                ],
            )
        except (OSError, ValueError, KeyError, TypeError):
            skipped.append(path.name)  # other result files (load, durability, fuzz) have no rows
            continue
        boards.append(board)
    return Leaderboards(folder=str(folder), boards=boards, skipped=skipped)


# --------------------------------------------------------------------------- one customer
def customer(settings: ServeSettings, user_id: str, limit: int = 50) -> CustomerProfile:
    """A customer's users row, event counts, orders and most recent events with item titles."""
    with open_workspace(settings.workspace, read_only=True) as ws:
        user = ws.sql("SELECT signup_ts, country FROM users WHERE user_id = ? LIMIT 1", [user_id])
        by_type = ws.sql(
            "SELECT event_type, count(*) AS n, min(ts) AS first, max(ts) AS last FROM events "
            "WHERE user_id = ? GROUP BY 1",
            [user_id],
        )
        orders = ws.sql(
            "SELECT count(DISTINCT order_id) AS n, "
            "coalesce(sum(CASE WHEN status = 'completed' THEN quantity * unit_price END), 0) AS spend "
            "FROM orders WHERE user_id = ?",
            [user_id],
        )
        recent = ws.sql(
            "SELECT e.ts, e.event_type, e.item_id, i.title, e.quantity, e.price, e.query "
            "FROM events e LEFT JOIN items i USING (item_id) WHERE e.user_id = ? "
            f"ORDER BY e.ts DESC NULLS LAST LIMIT {int(limit)}",
            [user_id],
        )
        seen = None
        if not len(by_type):  # an order export: the history is the order lines
            recent = ws.sql(
                "SELECT o.ts, 'order (' || coalesce(o.status, 'unknown') || ')' AS event_type, "
                "o.item_id, i.title, o.quantity, o.unit_price AS price, NULL AS query "
                "FROM orders o LEFT JOIN items i USING (item_id) WHERE o.user_id = ? "
                f"ORDER BY o.ts DESC NULLS LAST, o.line LIMIT {int(limit)}",
                [user_id],
            )
            seen = ws.sql("SELECT min(ts) AS first, max(ts) AS last FROM orders WHERE user_id = ?",
                          [user_id])
        activity = _activity(ws, "user_id", user_id)
    n_orders = int(orders["n"].iloc[0]) if len(orders) else 0
    known = bool(len(user) or len(by_type) or n_orders)
    return CustomerProfile(
        user_id=user_id,
        known=known,
        signup_ts=_iso(user["signup_ts"].iloc[0]) if len(user) else None,
        country=_str(user["country"].iloc[0]) if len(user) else None,
        events=int(by_type["n"].sum()) if len(by_type) else 0,
        first_seen=_iso(by_type["first"].min() if len(by_type) else _at(seen, "first")),
        last_seen=_iso(by_type["last"].max() if len(by_type) else _at(seen, "last")),
        orders=n_orders,
        completed_spend=float(orders["spend"].iloc[0]) if len(orders) else 0.0,
        events_by_type={
            str(t): int(n) for t, n in zip(by_type["event_type"], by_type["n"], strict=True)
        },
        recent=[
            EventRow(
                ts=_iso(r.ts),
                event_type=str(r.event_type),
                item_id=_str(r.item_id),
                title=_str(r.title),
                quantity=_num(r.quantity),
                price=_num(r.price),
                query=_str(r.query),
            )
            for r in recent.itertuples(index=False)
        ],
        activity=activity,
    )


def _at(frame: pd.DataFrame | None, column: str) -> Any:
    """The first value of ``column`` (None for no frame or no rows)."""
    return None if frame is None or not len(frame) else frame[column].iloc[0]


# --------------------------------------------------------------------------- one product
def product(settings: ServeSettings, item_id: str, reviews: int = 5) -> ProductProfile:
    """A product's catalogue row, its events per day and type, units sold and recorded reviews."""
    with open_workspace(settings.workspace, read_only=True) as ws:
        row = ws.sql(
            "SELECT title, description, category, brand, price, currency FROM items "
            "WHERE item_id = ? LIMIT 1",
            [item_id],
        )
        by_type = ws.sql(
            "SELECT event_type, count(*) AS n FROM events WHERE item_id = ? GROUP BY 1", [item_id]
        )
        activity = _activity(ws, "item_id", item_id, units=True)
        sold = ws.sql(
            "SELECT coalesce(sum(quantity) FILTER (WHERE status = 'completed'), 0) AS units, "
            "count(DISTINCT order_id) AS orders, min(ts) AS first, max(ts) AS last "
            "FROM orders WHERE item_id = ?",
            [item_id],
        )
        stats = ws.sql(
            "SELECT count(*) AS n, avg(rating) AS mean FROM reviews WHERE item_id = ?", [item_id]
        )
        latest = ws.sql(
            "SELECT ts, rating, title, text FROM reviews WHERE item_id = ? "
            f"ORDER BY ts DESC NULLS LAST LIMIT {int(reviews)}",
            [item_id],
        )
    info = row.iloc[0] if len(row) else None

    def field(name: str) -> Any:
        return None if info is None else info[name]

    return ProductProfile(
        item_id=item_id,
        known=info is not None or bool(len(by_type)) or bool(int(sold["orders"].iloc[0])),
        title=_str(field("title")),
        description=_str(field("description")),
        category=_str(field("category")),
        brand=_str(field("brand")),
        price=_num(field("price")),
        currency=_str(field("currency")),
        events_by_type={
            str(t): int(n) for t, n in zip(by_type["event_type"], by_type["n"], strict=True)
        },
        units_sold=float(sold["units"].iloc[0]) if len(sold) else 0.0,
        orders=int(sold["orders"].iloc[0]) if len(sold) else 0,
        first_sold=_iso(_at(sold, "first")),
        last_sold=_iso(_at(sold, "last")),
        activity=activity,
        reviews=ReviewStats(
            reviews=int(stats["n"].iloc[0]),
            mean_rating=_num(stats["mean"].iloc[0]),
            recent=[
                {
                    "ts": _iso(r.ts),
                    "rating": _num(r.rating),
                    "title": _str(r.title),
                    "text": _str(r.text)[:500] if _str(r.text) else None,
                }
                for r in latest.itertuples(index=False)
            ],
        ),
    )
