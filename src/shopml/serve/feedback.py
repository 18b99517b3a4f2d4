"""Feedback that is never lost: per-process append logs, one writer, and the online overlay.

Durability. DuckDB lets one process write the workspace, and the server may run several
worker processes, so feedback takes two steps:

1. :class:`AppendLog` -- each process appends the events of a request as JSON lines to its own
   log file under ``<workspace>.serve/feedback/`` and calls ``fdatasync`` before the request is
   acknowledged (concurrent requests share one sync: group commit). A log file is named
   ``<host>-<pid>-<start ns>-<random>.jsonl``, is written by that process only and carries an
   exclusive ``flock`` for as long as the process lives, so a crash can only leave an
   unterminated last line, which was never acknowledged and is never read.
2. :class:`LogIngester` -- one process (the holder of ``writer.lock``; another takes over when
   it dies) takes the complete lines of every log into the workspace's ``events`` table, then
   records how far it got in ``offsets.json``. Event ids are the table's key and events already
   present are skipped, so replaying a log after a crash between the commit and the offsets
   write, or a client retrying with the same ``event_id``, adds nothing twice. Logs of dead
   processes are deleted once fully taken in.

Online learning. :class:`Overlay` keeps each user's (and session's) most recent items from
feedback; the recommendation endpoints merge them into the history they score, so a new click
changes the next recommendations without a retrain. Each process applies its own events at once
and follows the other processes' logs (:class:`LogFollower`) within one pump interval.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from shopml.core.errors import ShopMLError
from shopml.core.persist import atomic_write_json, read_json
from shopml.data.schema import TABLES
from shopml.recommend.train import INTERACTION_EVENTS
from shopml.serve.workspace_io import open_workspace

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: logs work, writer election does not
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("shopml.serve.feedback")

EVENT_COLUMNS = TABLES["events"].columns
EVENTS_SCHEMA = TABLES["events"].schema
OFFSETS = "offsets.json"
WRITER_LOCK = "writer.lock"
WAKE = "wake"
_MAX_READ = 8 * 1024 * 1024  # bytes taken per file and round: bounds memory under a backlog
_LOG_RE = re.compile(r"^[A-Za-z0-9._]+-\d+-\d+-[0-9a-f]+\.jsonl$")


class FeedbackLogError(ShopMLError):
    """Feedback could not be made durable (the log could not be written or synced)."""


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _try_lock(fd: int) -> bool:
    if fcntl is None:
        return True
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except OSError:
        return False


def _owner_alive(path: Path) -> bool:
    """Whether a process still holds the log's lock (its writer is alive)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return False
    try:
        return not _try_lock(fd)
    finally:
        os.close(fd)  # closing releases a lock we took


# --------------------------------------------------------------------------- the append log


class AppendLog:
    """This process's fsync'ed JSON-lines log (see the module docstring); thread-safe."""

    def __init__(self, folder: Path, rotate_bytes: int = 64 * 1024 * 1024) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.rotate_bytes = rotate_bytes
        self._cond = threading.Condition()
        self._pending: list[bytes] = []
        self._syncing = False
        self._closed = False
        self._failed: dict[str, int] = {}  # file -> offset up to which appends failed
        self.names: set[str] = set()  # every file this process wrote
        self._open_new()

    def _open_new(self) -> None:
        host = re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"
        name = f"{host}-{os.getpid()}-{time.time_ns()}-{secrets.token_hex(3)}.jsonl"
        path = self.folder / name
        # locked under a hidden name first, so the writer never sees it unlocked (i.e. dead)
        hidden = self.folder / f".{name}.new"
        fd = os.open(hidden, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o644)
        if not _try_lock(fd):  # pragma: no cover - a fresh unique file cannot be locked
            os.close(fd)
            raise FeedbackLogError(f"cannot lock new feedback log {path}")
        os.rename(hidden, path)
        _fsync_dir(self.folder)  # the file's name must survive a crash, not only its bytes
        self.fd, self.name, self.path = fd, name, path
        self._reserved = self._synced = 0
        self.names.add(name)

    def append(self, data: bytes) -> tuple[str, int]:
        """Append complete lines; returns ``(file name, end offset)`` once they are on disk.

        Raises :class:`FeedbackLogError` if they could not be written and synced.
        """
        if not data.endswith(b"\n"):
            raise ValueError("append takes complete lines")
        with self._cond:
            if self._closed:
                raise FeedbackLogError("the feedback log is closed (server shutting down)")
            name = self.name
            self._pending.append(data)
            self._reserved += len(data)
            end = self._reserved
            while True:
                if name in self._failed and end <= self._failed[name]:
                    raise FeedbackLogError(
                        f"writing feedback log {name} failed; nothing acknowledged"
                    )
                if name != self.name or self._synced >= end:
                    return name, end
                if not self._syncing:
                    self._sync_pending()
                else:
                    self._cond.wait()

    def _sync_pending(self) -> None:
        """Write and sync everything pending (called with the lock held; releases it meanwhile)."""
        batch = b"".join(self._pending)
        self._pending = []
        stop = self._synced + len(batch)
        fd, name = self.fd, self.name
        self._syncing = True
        self._cond.release()
        error: OSError | None = None
        try:
            view = memoryview(batch)
            while view:
                view = view[os.write(fd, view) :]
            os.fdatasync(fd)
        except OSError as exc:
            error = exc
        finally:
            self._cond.acquire()
            self._syncing = False
        if error is None:
            self._synced = stop
            if not self._pending and self._synced >= self.rotate_bytes:
                self._rotate()
        else:
            log.error("feedback log %s: %s", name, error)
            # whatever was reserved in this file may be torn: fail it all and start a new file
            self._failed[name] = self._reserved
            self._pending = []
            try:
                self._rotate()
            except OSError as exc:
                log.error("cannot open a new feedback log: %s", exc)
                self._closed = True
        self._cond.notify_all()

    def _rotate(self) -> None:
        old = self.fd
        self._open_new()
        os.close(old)  # releases the old file's lock: the writer may delete it once taken in

    def close(self) -> None:
        """Sync what is pending and close (releases the lock)."""
        with self._cond:
            while self._syncing:
                self._cond.wait()
            if self._pending and not self._closed:
                self._sync_pending()
            if not self._closed:
                self._closed = True
                os.close(self.fd)
            self._cond.notify_all()


def encode_events(events: list[dict[str, Any]]) -> bytes:
    """Events as JSON lines, every column present (missing ones null)."""
    return b"".join(
        json.dumps({c: e.get(c) for c in EVENT_COLUMNS}, separators=(",", ":")).encode() + b"\n"
        for e in events
    )


def parse_lines(data: bytes) -> pd.DataFrame:
    """Complete JSON lines -> an events frame (canonical columns, ``ts`` as UTC timestamps).

    A line that is not a JSON object is skipped with a log message (a log is only ever cut at
    a line end, so this means outside damage).
    """
    try:
        frame = pd.read_json(io.BytesIO(data), lines=True, dtype=False, convert_dates=False)
    except ValueError:
        records = []
        for line in data.splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                rec = None
            if isinstance(rec, dict):
                records.append(rec)
            elif line.strip():
                log.error("skipping a damaged feedback line: %r", line[:200])
        frame = pd.DataFrame.from_records(records)
    for c in EVENT_COLUMNS:
        if c not in frame.columns:
            frame[c] = None
    frame = frame[EVENT_COLUMNS]
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True, format="ISO8601")
    return frame


def _read_complete(path: Path, start: int) -> tuple[bytes, int]:
    """Complete lines of ``path`` from ``start`` (at most ~8 MB), and the offset after them."""
    try:
        with open(path, "rb") as fh:
            fh.seek(start)
            data = fh.read(_MAX_READ)
    except FileNotFoundError:
        return b"", start
    cut = data.rfind(b"\n")
    if cut < 0:
        return b"", start
    return data[: cut + 1], start + cut + 1


def log_files(folder: Path) -> list[Path]:
    """The feedback logs in ``folder``, oldest first."""
    if not folder.is_dir():
        return []
    files = [p for p in folder.iterdir() if _LOG_RE.match(p.name)]
    return sorted(files, key=lambda p: int(p.name.split("-")[-2]))


# --------------------------------------------------------------------------- the one writer


@dataclass
class TakeIn:
    """What one round of :meth:`LogIngester.take_in` did."""

    lines: int = 0
    added: int = 0
    already_present: int = 0
    quarantined: int = 0
    files_removed: int = 0
    more: bool = False  # a backlog remains


class LogIngester:
    """Takes every log's complete lines into the workspace (run by the elected writer only)."""

    def __init__(self, folder: Path, workspace: Path) -> None:
        self.folder = Path(folder)
        self.workspace = Path(workspace)
        self.offsets: dict[str, int] = read_offsets(self.folder)

    def take_in(self, skip_alive_check: set[str] | None = None) -> TakeIn:
        """One round: read new lines, commit new events, then record the offsets."""
        out = TakeIn()
        chunks, ends = [], {}
        files = log_files(self.folder)
        for path in files:
            start = self.offsets.get(path.name, 0)
            data, end = _read_complete(path, start)
            if data:
                chunks.append(data)
                ends[path.name] = end
                out.more |= len(data) >= _MAX_READ - 1024 * 1024
        if chunks:
            frame = parse_lines(b"".join(chunks))
            out.lines = len(frame)
            self._commit(frame, out)
            self.offsets.update(ends)
            atomic_write_json(self.folder / OFFSETS, self.offsets)
        out.files_removed = self._remove_finished(files, skip_alive_check or set())
        return out

    def _commit(self, frame: pd.DataFrame, out: TakeIn) -> None:
        frame = frame[frame["event_id"].notna()].drop_duplicates("event_id")
        with open_workspace(self.workspace, read_only=False) as ws:
            ws.con.register("_feedback_ids", pa.table({"event_id": frame["event_id"].astype(str)}))
            try:
                have = ws.con.execute(
                    "SELECT event_id FROM events WHERE event_id IN (SELECT event_id FROM _feedback_ids)"
                ).df()["event_id"]
            finally:
                ws.con.unregister("_feedback_ids")
            new = frame[~frame["event_id"].isin(have)]
            out.already_present = len(frame) - len(new)
            if len(new):
                table = pa.Table.from_pandas(
                    new, schema=EVENTS_SCHEMA, preserve_index=False, safe=False
                )
                report = ws.append("events", table, source="feedback")
                out.added = report.rows_accepted
                out.quarantined = report.rows_quarantined
                if report.rows_quarantined:
                    log.warning("feedback rows quarantined: %s", report.reasons)

    def _remove_finished(self, files: list[Path], own: set[str]) -> int:
        """Delete logs whose writer is dead and whose complete lines are all taken in."""
        removed = 0
        for path in files:
            if path.name in own:
                continue
            try:
                size = path.stat().st_size
            except FileNotFoundError:
                continue
            done = self.offsets.get(path.name, 0)
            if done < size:
                # an unterminated tail of a dead writer was never acknowledged: drop it with the file
                data, _ = _read_complete(path, done)
                if data:
                    continue
            if _owner_alive(path):
                continue
            path.unlink(missing_ok=True)
            self.offsets.pop(path.name, None)
            removed += 1
        if removed:
            _fsync_dir(self.folder)
            atomic_write_json(self.folder / OFFSETS, self.offsets)
        return removed


def read_offsets(folder: Path) -> dict[str, int]:
    """Committed offsets per log file (what the writer has taken into the workspace)."""
    path = Path(folder) / OFFSETS
    if not path.exists():
        return {}
    try:
        data = read_json(path)
    except (OSError, ValueError):
        return {}
    return {str(k): int(v) for k, v in data.items()} if isinstance(data, dict) else {}


class LogFollower:
    """Reads the other processes' logs as they grow (for the overlay); not the durability path."""

    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.offsets: dict[str, int] = {}

    def poll(self, own: set[str]) -> pd.DataFrame | None:
        chunks = []
        present = set()
        for path in log_files(self.folder):
            present.add(path.name)
            if path.name in own:
                continue
            data, end = _read_complete(path, self.offsets.get(path.name, 0))
            if data:
                chunks.append(data)
                self.offsets[path.name] = end
        for gone in set(self.offsets) - present:
            del self.offsets[gone]
        return parse_lines(b"".join(chunks)) if chunks else None


# --------------------------------------------------------------------------- the overlay

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


# --------------------------------------------------------------------------- the service


@dataclass
class Ack:
    """An acknowledged request: its events are durable in ``log`` up to ``offset``."""

    event_ids: list[str]
    log: str
    offset: int
    applied: int = 0  # interaction events applied to the overlay
    committed: bool = False


@dataclass
class PumpStats:
    """Counters of the background pump (for /metrics and the admin status)."""

    rounds: int = 0
    taken_in: int = 0
    already_present: int = 0
    quarantined: int = 0
    followed: int = 0
    errors: int = 0
    last_error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class FeedbackService:
    """Durable feedback for one process: its log, the writer role when elected, the follower,
    and a background pump that runs them every ``interval_s``.

    Taking the logs into the workspace has a fixed cost (opening the DuckDB file, a transaction,
    a checkpoint on close: tens of milliseconds), so the writer does it every
    ``commit_interval_s`` with whatever has accumulated, and at once when a request waits for
    it (``wait=true``; a waiter in another process touches the ``wake`` file).
    """

    def __init__(
        self,
        folder: Path,
        workspace: Path,
        overlay: Overlay,
        interval_s: float = 0.1,
        commit_interval_s: float = 1.0,
        rotate_bytes: int = 64 * 1024 * 1024,
        on_take_in: Callable[[TakeIn], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.workspace = Path(workspace)
        self.overlay = overlay
        self.interval_s = interval_s
        self.commit_interval_s = commit_interval_s
        self.on_take_in = on_take_in
        self.log = AppendLog(self.folder, rotate_bytes)
        self.follower = LogFollower(self.folder)
        self.ingester: LogIngester | None = None
        self._writer_fd: int | None = None
        self._committed = threading.Condition()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._waiting = 0  # requests of this process waiting for a take-in
        self._wake_file = self.folder / WAKE
        self._wake_seen = self._wake_mtime()
        self._last_take_in = 0.0
        self._thread: threading.Thread | None = None
        self._round_lock = threading.Lock()  # the pump and flush() never run a round at once
        self._ticks: list[tuple[float, Callable[[], None]]] = []
        self._last_tick: dict[int, float] = {}
        self.stats = PumpStats()

    @property
    def is_writer(self) -> bool:
        """Whether this process takes the logs into the workspace."""
        return self.ingester is not None

    # -- requests
    def submit(self, events: list[dict[str, Any]]) -> Ack:
        """Make ``events`` durable (returns after fdatasync), then apply them to the overlay."""
        name, end = self.log.append(encode_events(events))
        applied = self.overlay.add_records(events)
        return Ack([str(e["event_id"]) for e in events], name, end, applied)

    def committed_offset(self, name: str) -> int:
        """How far the writer has taken ``name`` into the workspace."""
        if self.ingester is not None:
            return self.ingester.offsets.get(name, 0)
        return read_offsets(self.folder).get(name, 0)

    def wait_committed(self, ack: Ack, timeout_s: float) -> bool:
        """Wait until the acknowledged events are in the workspace's events table."""
        deadline = time.monotonic() + timeout_s
        with self._committed:
            self._waiting += 1
        try:
            self._request_take_in()
            with self._committed:
                while self.committed_offset(ack.log) < ack.offset:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        return False
                    self._committed.wait(min(left, 0.02))
        finally:
            with self._committed:
                self._waiting -= 1
        ack.committed = True
        return True

    def _request_take_in(self) -> None:
        if self.ingester is not None:
            self._wake.set()
        else:  # the writer is another process: it watches the wake file's time
            with open(self._wake_file, "a"):
                pass
            os.utime(self._wake_file)

    def _wake_mtime(self) -> int:
        try:
            return os.stat(self._wake_file).st_mtime_ns
        except FileNotFoundError:
            return 0

    # -- the pump
    def every(self, seconds: float, fn: Callable[[], None]) -> None:
        """Also run ``fn`` from the pump every ``seconds`` (e.g. the reload check)."""
        self._ticks.append((seconds, fn))

    def start(self) -> None:
        # elect before serving: the first process to start is the writer, not the first pump
        # thread to be scheduled (which on a busy machine can be a later worker's)
        with self._round_lock:
            self._elect()
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="shopml-feedback-pump", daemon=True
            )
            self._thread.start()

    def stop(self) -> None:
        """Stop the pump, take in what is left (if writer), close the log and the writer lock."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None
        self.log.close()
        if self.ingester is not None:
            try:
                self._round(force=True)
            except Exception as exc:  # noqa: BLE001 - shutting down: report, do not mask
                log.error("final feedback take-in failed: %s", exc)
        if self._writer_fd is not None:
            os.close(self._writer_fd)
            self._writer_fd = None
            self.ingester = None

    def flush(self) -> TakeIn | None:
        """Run one pump round now (tests and shutdown); returns the take-in if this is the writer."""
        return self._round(force=True)

    def _elect(self) -> None:
        if self.ingester is not None:
            return
        fd = os.open(self.folder / WRITER_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        if _try_lock(fd):
            self._writer_fd = fd
            self.ingester = LogIngester(self.folder, self.workspace)
            log.info("process %d is the feedback writer", os.getpid())
        else:
            os.close(fd)

    def _round(self, force: bool = False) -> TakeIn | None:
        with self._round_lock:
            return self._round_locked(force)

    def _take_in_due(self) -> bool:
        wake = self._wake_mtime()
        woken = wake != self._wake_seen
        self._wake_seen = wake
        due = time.monotonic() - self._last_take_in >= self.commit_interval_s
        return woken or due or self._waiting > 0

    def _round_locked(self, force: bool = False) -> TakeIn | None:
        self._elect()
        result = None
        if self.ingester is not None and (force or self._take_in_due()):
            self._last_take_in = time.monotonic()
            result = self.ingester.take_in(skip_alive_check={self.log.name})
            with self._committed:
                self._committed.notify_all()
            self.stats.taken_in += result.added
            self.stats.already_present += result.already_present
            self.stats.quarantined += result.quarantined
            if self.on_take_in is not None:
                self.on_take_in(result)
        followed = self.follower.poll(self.log.names)
        if followed is not None:
            self.stats.followed += self.overlay.add(followed)
        self.stats.rounds += 1
        return result

    def _run(self) -> None:
        while not self._stop.is_set():
            more = False
            try:
                result = self._round()
                more = bool(result and result.more)
            except Exception as exc:  # noqa: BLE001 - the pump must survive a bad round
                self.stats.errors += 1
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.exception("feedback pump round failed")
            now = time.monotonic()
            for i, (seconds, fn) in enumerate(self._ticks):
                if now - self._last_tick.get(i, 0.0) >= seconds:
                    self._last_tick[i] = now
                    try:
                        fn()
                    except Exception:  # noqa: BLE001
                        log.exception("pump task failed")
            if not more:
                self._wake.wait(self.interval_s)
                self._wake.clear()
