"""The online overlay: each user's and session's most recent items from feedback."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from shopml.recommend.train import INTERACTION_EVENTS

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def _ns(ts: str) -> int:
    """Nanoseconds since the epoch of an ISO time (UTC if it has no offset)."""
    t = dt.datetime.fromisoformat(ts)
    if t.tzinfo is None:
        t = t.replace(tzinfo=dt.UTC)
    return (t - _EPOCH) // dt.timedelta(microseconds=1) * 1000


class Overlay:
    """Each user's and session's most recent items from feedback, deduplicated by event id.

    Bounded: ``per_key`` items per user or session, ``max_keys`` users and sessions (least
    recently updated dropped first). Thread-safe.
    """

    def __init__(self, per_key: int = 50, max_keys: int = 200_000) -> None:
        self.per_key = per_key
        self.max_keys = max_keys
        self._lock = threading.Lock()
        # key ("user"|"session", id) -> list of (ts ns, event_id, item_id), oldest first
        self._data: OrderedDict[tuple[str, str], list[tuple[int, str, str]]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._data)

    def add(self, frame: pd.DataFrame) -> int:
        """Apply events (canonical columns); returns how many interaction events were applied."""
        if frame is None or not len(frame):
            return 0
        f = frame[frame["event_type"].isin(INTERACTION_EVENTS) & frame["item_id"].notna()]
        if not len(f):
            return 0
        ts = (
            pd.to_datetime(f["ts"], utc=True)
            .dt.tz_localize(None)
            .to_numpy("datetime64[ns]")
            .astype(np.int64)
        )
        base = pd.DataFrame(
            {
                "ts": ts,
                "event_id": f["event_id"].astype(str).to_numpy(),
                "item": f["item_id"].astype(str).to_numpy(),
            }
        )
        updates: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        for kind, col in (("user", "user_id"), ("session", "session_id")):
            ids = f[col].to_numpy()
            have = pd.notna(ids)
            if not have.any():
                continue
            part = (
                base[have]
                .assign(key=ids[have].astype(str))
                .sort_values(["key", "ts"], kind="stable")
            )
            part = part.groupby("key", sort=False).tail(self.per_key)
            for key, g in part.groupby("key", sort=False):
                updates[(kind, key)] = list(
                    zip(g["ts"].tolist(), g["event_id"].tolist(), g["item"].tolist(), strict=True)
                )
        self._merge(updates)
        return len(f)

    def add_records(self, events: list[dict[str, Any]]) -> int:
        """Apply one request's events (dicts with an ISO ``ts``): the per-request fast path,
        without the fixed cost of building frames for a handful of events."""
        updates: dict[tuple[str, str], list[tuple[int, str, str]]] = {}
        applied = 0
        for e in events:
            if e.get("event_type") not in INTERACTION_EVENTS or e.get("item_id") is None:
                continue
            applied += 1
            ts = _ns(e["ts"])
            row = (ts, str(e["event_id"]), str(e["item_id"]))
            for kind, col in (("user", "user_id"), ("session", "session_id")):
                if e.get(col) is not None:
                    updates.setdefault((kind, str(e[col])), []).append(row)
        self._merge(updates)
        return applied

    def _merge(self, updates: dict[tuple[str, str], list[tuple[int, str, str]]]) -> None:
        with self._lock:
            for key, new in updates.items():
                old = self._data.pop(key, [])
                seen = {e for _, e, _ in old}
                merged = old + [r for r in new if r[1] not in seen]
                merged.sort(key=lambda r: r[0])
                self._data[key] = merged[-self.per_key :]
            while len(self._data) > self.max_keys:
                self._data.popitem(last=False)

    def items(self, kind: str, key: str, after: pd.Timestamp | None = None) -> list[str]:
        """Items of a user or session, oldest first, from events newer than ``after``."""
        with self._lock:
            rows = list(self._data.get((kind, key), ()))
        if after is not None:
            cut = int(pd.Timestamp(after).value)
            rows = [r for r in rows if r[0] > cut]
        return [item for _, _, item in rows]
