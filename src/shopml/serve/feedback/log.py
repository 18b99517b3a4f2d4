"""This process's append log of feedback, and reading the logs of every process.

See :mod:`shopml.serve.feedback` for the protocol: each process appends JSON lines to its own
log file, synced before the request is acknowledged, and holds an exclusive ``flock`` on it for
as long as it lives.
"""

from __future__ import annotations

import io
import json
import logging
import os
import re
import secrets
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

from shopml.core.errors import ShopMLError
from shopml.core.persist import rename_durably, sync_fd
from shopml.data.schema import TABLES

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
        rename_durably(hidden, path)  # the file's name must survive a crash, not its bytes only
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
            sync_fd(fd, data_only=True)
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
