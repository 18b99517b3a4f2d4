"""Short-lived workspace connections that coexist with other server processes.

DuckDB lets one process write a file, and no other process open it meanwhile (not even to
read); inside one process, connections to one file must share one configuration. The server
therefore never keeps the workspace open: every read (at load) and every write (feedback
take-in) opens it briefly under a process-wide lock, retrying while another process holds it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from shopml.core.errors import DataError
from shopml.data.workspace import Workspace

_PROCESS_LOCK = threading.Lock()


@contextmanager
def open_workspace(
    path: str | Path, read_only: bool = True, timeout_s: float = 30.0
) -> Iterator[Workspace]:
    """The workspace at ``path``, opened for the duration of the block.

    Raises :class:`DataError` if the file does not exist or stays locked by another process
    for ``timeout_s`` seconds.
    """
    path = Path(path)
    if not path.exists():
        raise DataError(f"no workspace at {path}")
    deadline = time.monotonic() + timeout_s
    delay = 0.005
    with _PROCESS_LOCK:
        while True:
            try:
                ws = Workspace(path, read_only=read_only)
                break
            except DataError as exc:
                if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                    raise
                time.sleep(delay)
                delay = min(delay * 2, 0.2)
        try:
            yield ws
        finally:
            ws.close()
