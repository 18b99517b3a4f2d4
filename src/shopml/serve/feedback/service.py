"""The feedback service of one process: its log, the writer role when elected, the follower,
and the background pump."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopml.serve.feedback.ingest import LogFollower, LogIngester, TakeIn, read_offsets
from shopml.serve.feedback.log import (
    WAKE,
    WRITER_LOCK,
    AppendLog,
    _try_lock,
    encode_events,
    log,
)
from shopml.serve.feedback.overlay import Overlay


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
        """Run one pump round now (tests, shutdown); returns the take-in if this is the writer."""
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
