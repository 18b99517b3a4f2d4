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
    activity: Series = Field(description="Events per day and type.")
    models: list[ModelInfo]
    serving: Serving
    endpoints: list[str] = Field(description="GET/POST paths of the API this server offers.")
    example_users: list[str] = Field(description="Customers with the most events.")
    example_items: list[str] = Field(description="Items with the most events.")


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
    recent: list[EventRow] = Field(description="The most recent events, newest first.")
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
    activity: Series = Field(description="Events per day and type for this item.")
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


def _series(frame: pd.DataFrame, kind: str = "event_type") -> Series:
    """``(day, kind, n)`` rows as aligned daily lists, the last :data:`MAX_DAYS` days with data."""
    if not len(frame):
        return Series(dates=[], counts={})
    wide = frame.pivot_table(index="day", columns=kind, values="n", aggfunc="sum", fill_value=0)
    wide = wide.sort_index().iloc[-MAX_DAYS:]
    return Series(
        dates=[pd.Timestamp(d).date().isoformat() for d in wide.index],
        counts={str(c): wide[c].astype(float).tolist() for c in wide.columns},
    )


# --------------------------------------------------------------------------- overview
def overview(settings: ServeSettings, snap: Snapshot | None, endpoints: list[str]) -> Overview:
    """Workspace tables and activity, registry models, and what this process serves."""
    with open_workspace(settings.workspace, read_only=True) as ws:
        info = ws.info()
        activity = ws.sql(
            "SELECT CAST(ts AS DATE) AS day, event_type, count(*) AS n FROM events "
            "WHERE ts IS NOT NULL GROUP BY 1, 2"
        )
        users = ws.sql(
            "SELECT user_id FROM events WHERE user_id IS NOT NULL "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {EXAMPLES}"
        )
        items = ws.sql(
            "SELECT item_id FROM events WHERE item_id IS NOT NULL "
            f"GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT {EXAMPLES}"
        )
    tables = [
        TableInfo(name=name, rows=t["rows"], time_range=t.get("time_range"))
        for name, t in info["tables"].items()
    ]
    return Overview(
        workspace=str(settings.workspace),
        tables=tables,
        quarantine=Quarantine(**info["quarantine"]),
        activity=_series(activity),
        models=registered_models(settings.registry, snap),
        serving=serving(snap),
        endpoints=endpoints,
        example_users=users["user_id"].astype(str).tolist(),
        example_items=items["item_id"].astype(str).tolist(),
    )


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
        search_items=snap.search.n_items if snap.search is not None else None,
        errors=list(snap.errors),
    )


def registered_models(root: Path, snap: Snapshot | None) -> list[ModelInfo]:
    """The latest version of every registered model, its versions, metrics and config."""
    registry = Registry(root)
    loaded = snap.versions() if snap is not None else {}
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
        activity = ws.sql(
            "SELECT CAST(ts AS DATE) AS day, event_type, count(*) AS n FROM events "
            "WHERE user_id = ? AND ts IS NOT NULL GROUP BY 1, 2",
            [user_id],
        )
    n_orders = int(orders["n"].iloc[0]) if len(orders) else 0
    known = bool(len(user) or len(by_type) or n_orders)
    return CustomerProfile(
        user_id=user_id,
        known=known,
        signup_ts=_iso(user["signup_ts"].iloc[0]) if len(user) else None,
        country=_str(user["country"].iloc[0]) if len(user) else None,
        events=int(by_type["n"].sum()) if len(by_type) else 0,
        first_seen=_iso(by_type["first"].min()) if len(by_type) else None,
        last_seen=_iso(by_type["last"].max()) if len(by_type) else None,
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
        activity=_series(activity),
    )


# --------------------------------------------------------------------------- one product
def product(settings: ServeSettings, item_id: str, reviews: int = 5) -> ProductProfile:
    """A product's catalogue row, its events per day and type, units sold and recorded reviews."""
    with open_workspace(settings.workspace, read_only=True) as ws:
        row = ws.sql(
            "SELECT title, description, category, brand, price, currency FROM items "
            "WHERE item_id = ? LIMIT 1",
            [item_id],
        )
        activity = ws.sql(
            "SELECT CAST(ts AS DATE) AS day, event_type, count(*) AS n FROM events "
            "WHERE item_id = ? AND ts IS NOT NULL GROUP BY 1, 2",
            [item_id],
        )
        sold = ws.sql(
            "SELECT coalesce(sum(quantity), 0) AS units FROM orders "
            "WHERE item_id = ? AND status = 'completed'",
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
    by_type = activity.groupby("event_type")["n"].sum() if len(activity) else pd.Series(dtype=int)
    info = row.iloc[0] if len(row) else None

    def field(name: str) -> Any:
        return None if info is None else info[name]

    return ProductProfile(
        item_id=item_id,
        known=info is not None or bool(len(activity)),
        title=_str(field("title")),
        description=_str(field("description")),
        category=_str(field("category")),
        brand=_str(field("brand")),
        price=_num(field("price")),
        currency=_str(field("currency")),
        events_by_type={str(k): int(v) for k, v in by_type.items()},
        units_sold=float(sold["units"].iloc[0]) if len(sold) else 0.0,
        activity=_series(activity),
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
