"""Session-conversion examples: a session's first ``n`` events as features, label = the session
contains a purchase.

The prediction is made at the moment a session reaches its ``n``-th browsing event, so:

- only sessions with at least ``n`` browsing (non-purchase) events are examples: a shorter
  session never reaches the moment of prediction, and keeping it would tell the model that the
  session ended (future information);
- sessions whose first purchase comes before their ``n``-th browsing event are left out (they
  have converted already) and counted in ``excluded``;
- nothing after the ``n``-th event is used, except the label.

Features come back as one *wide* row per session, so tabular models and the sequence model
read the same frame: per step ``t = 1..n`` the columns ``item_t``, ``category_t`` (the item's
catalogue category), ``event_t`` (the event type, only where the data has more than one
browsing type), ``gap_t`` (log1p of the seconds since the previous step; 0 at step 1),
``item_sales_t`` and ``category_sales_t`` (log1p of the shop's purchases of that item / category
on days before the session's first day: past sales, known at prediction time),
grouped in :attr:`SessionPrefixes.sequences` for :class:`shopml.predict.sequence.GRUClassifier`;
and per session ``user_known`` (1 for a logged-in user), ``user_prior_purchase_days``
(distinct days on which that user bought before the session's first day), ``prefix_seconds``,
``distinct_items``, ``distinct_categories`` and ``start_dow`` (day of week).

Events are ordered within a session by ``order_by``, an SQL expression over the ``events``
columns (default ``ts``). Where a loader's clock orders one file's events but not one file
against another (DIGINETICA's views and purchases share only the day), pass the within-session
clock (``"TRY_CAST(json_extract(attributes, '$.timeframe') AS BIGINT)"`` there).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError

PURCHASE = "purchase"


@dataclass
class SessionPrefixes:
    """Examples: features ``X``, labels ``y`` (1 = the session has a purchase), per-row keys."""

    X: pd.DataFrame
    y: np.ndarray
    start: pd.Series  # the session's first event time: split on this
    session_id: np.ndarray
    n: int
    sequences: dict[str, list[str]]  # step-column groups, in step order
    excluded: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.y)


def session_prefixes(ws, n: int, order_by: str = "ts") -> SessionPrefixes:
    """Build the examples from ``ws``'s ``events`` and ``items`` (see the module docstring)."""
    if int(n) < 1:
        raise ValidationError(f"n (events per prefix) must be >= 1, got {n}")
    n = int(n)
    ev = f"""
        SELECT e.session_id, e.user_id, e.item_id, e.event_type, e.ts, e.ord, it.category
        FROM (SELECT *, ({order_by}) AS ord FROM events WHERE session_id IS NOT NULL) e
        LEFT JOIN items it ON it.item_id = e.item_id"""
    sessions = ws.sql(
        f"""
        WITH ev AS ({ev}),
        steps AS (
            SELECT *, row_number() OVER (PARTITION BY session_id ORDER BY ord, ts, item_id) AS step
            FROM ev WHERE event_type <> '{PURCHASE}'),
        buys AS (
            SELECT session_id, min(ord) AS first_buy FROM ev
            WHERE event_type = '{PURCHASE}' GROUP BY session_id),
        per AS (
            SELECT session_id, count(*) AS browsing,
                   max(ord) FILTER (WHERE step = {n}) AS nth_ord,
                   min(ts) AS start, any_value(user_id) AS user_id
            FROM steps GROUP BY session_id)
        SELECT per.*, buys.first_buy IS NOT NULL AS bought,
               buys.first_buy IS NOT NULL AND buys.first_buy <= per.nth_ord AS bought_before
        FROM per LEFT JOIN buys USING (session_id)
        """
    )
    if sessions.empty:
        raise DataError("no session has a browsing (non-purchase) event: nothing to predict from")
    if sessions["nth_ord"].notna().any() and sessions["nth_ord"].isna().all():  # pragma: no cover
        raise DataError("the order_by expression is NULL for every event")
    short = sessions["browsing"] < n
    early = ~short & sessions["bought_before"].fillna(False).astype(bool)
    keep = sessions[~short & ~early]
    excluded = {
        "sessions_with_browsing": int(len(sessions)),
        f"fewer_than_{n}_events": int(short.sum()),
        "bought_before_the_prediction": int(early.sum()),
    }
    if keep.empty:
        raise DataError(f"no session has {n} browsing events before its first purchase")
    keep_ids = keep[["session_id"]]
    steps = ws.sql(
        f"""
        WITH ev AS ({ev}),
        steps AS (
            SELECT *, row_number() OVER (PARTITION BY session_id ORDER BY ord, ts, item_id) AS step
            FROM ev WHERE event_type <> '{PURCHASE}'),
        first_n AS (
        SELECT session_id, step, item_id, category, event_type, ts FROM steps WHERE step <= {n}),
        sel AS (SELECT *, CAST(min(ts) OVER (PARTITION BY session_id) AS DATE) AS day0 FROM first_n),
        item_day AS (
            SELECT item_id, CAST(ts AS DATE) AS d, count(*) AS c FROM events
            WHERE event_type = '{PURCHASE}' GROUP BY ALL),
        cat_day AS (
            SELECT it.category, CAST(e.ts AS DATE) AS d, count(*) AS c
            FROM events e JOIN items it ON it.item_id = e.item_id
            WHERE e.event_type = '{PURCHASE}' GROUP BY ALL)
        -- the shop's own sales before the session's first day: known at prediction time
        SELECT sel.*,
            (SELECT coalesce(sum(c), 0) FROM item_day WHERE item_day.item_id = sel.item_id AND item_day.d < sel.day0) AS item_sales,
            (SELECT coalesce(sum(c), 0) FROM cat_day WHERE cat_day.category = sel.category AND cat_day.d < sel.day0) AS category_sales
        FROM sel
        """
    )
    steps = steps[steps["session_id"].isin(keep_ids["session_id"])]
    steps = steps.sort_values(["session_id", "step"], kind="stable")
    ts = pd.to_datetime(steps["ts"], utc=True)
    secs = (ts - pd.Timestamp(0, tz="UTC")).dt.total_seconds().to_numpy()
    gap = np.diff(secs, prepend=np.nan)
    first = steps["step"].to_numpy() == 1
    gap[first] = 0.0
    steps = steps.assign(
        gap=np.log1p(np.clip(gap, 0.0, None)),
        item_sales=np.log1p(steps["item_sales"].astype(np.float64)),
        category_sales=np.log1p(steps["category_sales"].astype(np.float64)),
    )
    wide_cols = {
        "item": "item_id",
        "category": "category",
        "gap": "gap",
        "item_sales": "item_sales",
        "category_sales": "category_sales",
    }
    if steps["event_type"].nunique() > 1:
        wide_cols["event"] = "event_type"
    wide = steps.pivot(index="session_id", columns="step", values=list(wide_cols.values()))
    sequences: dict[str, list[str]] = {}
    parts = {}
    for name, src in wide_cols.items():
        cols = [f"{name}_{t}" for t in range(1, n + 1)]
        sequences[name] = cols
        block = wide[src].reindex(columns=range(1, n + 1))
        block.columns = cols
        parts[name] = (
            block.astype(object)
            if name in ("item", "category", "event")
            else block.astype(np.float64)
        )
    per = (
        steps.groupby("session_id", sort=False)
        .agg(
            distinct_items=("item_id", "nunique"),
            distinct_categories=("category", "nunique"),
            t0=("ts", "min"),
            t1=("ts", "max"),
        )
        .reindex(wide.index)
    )
    per["prefix_seconds"] = (per["t1"] - per["t0"]).dt.total_seconds()
    meta = keep.set_index("session_id").reindex(wide.index)
    start = pd.Series(pd.to_datetime(meta["start"], utc=True).to_numpy(), index=wide.index)
    prior = _prior_purchase_days(ws, meta["user_id"], start)
    static = pd.DataFrame(
        {
            "user_known": meta["user_id"].notna().astype(np.float64),
            "user_prior_purchase_days": prior.astype(np.float64),
            "prefix_seconds": per["prefix_seconds"].astype(np.float64),
            "distinct_items": per["distinct_items"].astype(np.float64),
            "distinct_categories": per["distinct_categories"].astype(np.float64),
            "start_dow": start.dt.dayofweek.astype(str).astype(object),
        },
        index=wide.index,
    )
    X = pd.concat([*parts.values(), static], axis=1)
    # time order (then id) so the last rows are the latest: temporal splits, early stopping
    order = np.lexsort((wide.index.to_numpy(dtype=str), start.to_numpy()))
    X, meta, start = X.iloc[order], meta.iloc[order], start.iloc[order]
    return SessionPrefixes(
        X=X.reset_index(drop=True),
        y=meta["bought"].to_numpy(dtype=np.int8),
        start=start.reset_index(drop=True).rename("start"),
        session_id=meta.index.to_numpy(dtype=object),
        n=n,
        sequences=sequences,
        excluded=excluded,
    )


def _prior_purchase_days(ws, user: pd.Series, start: pd.Series) -> np.ndarray:
    """Per session: distinct days its user bought on before the session's first day (0 if anonymous)."""
    buys = ws.sql(
        f"SELECT DISTINCT user_id, CAST(ts AS DATE) AS buy_day FROM events "
        f"WHERE event_type = '{PURCHASE}' AND user_id IS NOT NULL"
    )
    out = np.zeros(len(user))
    known = user.notna().to_numpy()
    if not known.any() or buys.empty:
        return out
    day = start.dt.tz_convert("UTC").dt.tz_localize(None).dt.normalize().to_numpy()
    q = pd.DataFrame(
        {"row": np.flatnonzero(known), "user_id": user.to_numpy()[known], "day": day[known]}
    )
    buys["buy_day"] = pd.to_datetime(buys["buy_day"])
    m = q.merge(buys, on="user_id")
    counts = m[m["buy_day"] < m["day"]].groupby("row").size()
    out[counts.index.to_numpy()] = counts.to_numpy()
    return out


__all__ = ["SessionPrefixes", "session_prefixes"]
