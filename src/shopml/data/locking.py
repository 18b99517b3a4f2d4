"""Opening a workspace that another process may hold: the one place that retries on its lock.

DuckDB lets one process write a file, and no other process open it meanwhile (not even to
read); inside one process, connections to one file must share one configuration. So every
process that opens a shared workspace (the server taking in feedback, a trainer reading it, the
CLI) opens it briefly through :func:`connect` or :func:`open_workspace`, which retry while
another process holds the lock instead of failing at once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopml.core.errors import DataError
from shopml.data.workspace import Workspace

__all__ = ["DEFAULT_TIMEOUT_S", "connect", "open_workspace"]

#: how long an opener waits for another process to let go of the workspace
DEFAULT_TIMEOUT_S = 30.0

# connections of one process to one file must share a configuration: one opener at a time
_PROCESS_LOCK = threading.Lock()


def connect(
    path: str | Path, read_only: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Workspace:
    """The workspace at ``path``, opened; the caller closes it (or uses it as a context).

    Retries, backing off from 5 ms to 200 ms, while another process holds the file's lock.
    Raises :class:`DataError` if the file does not exist or stays locked for ``timeout_s``.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"no workspace at {path}")
    deadline = time.monotonic() + float(timeout_s)
    delay = 0.005
    while True:
        try:
            return Workspace(path, read_only=read_only)
        except DataError as exc:
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)


@contextmanager
def open_workspace(
    path: str | Path, read_only: bool = True, timeout_s: float = DEFAULT_TIMEOUT_S
) -> Iterator[Workspace]:
    """The workspace at ``path``, opened for the duration of the block under a process-wide
    lock (so threads of one server do not open it twice), retrying as :func:`connect` does."""
    with _PROCESS_LOCK:
        ws = connect(path, read_only=read_only, timeout_s=timeout_s)
        try:
            yield ws
        finally:
            ws.close()
