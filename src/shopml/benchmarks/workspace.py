"""Where a benchmark suite reads its data: a named dataset or an ingested workspace.

Every ``predict`` task suite takes ``dataset`` or ``workspace`` (exactly one); this opens either
the same way so the suites agree on what each accepts and on the errors they give.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from shopml.core.errors import DataError, ValidationError

if TYPE_CHECKING:
    from shopml.data.workspace import Workspace


def open_workspace(dataset: str | None, workspace: str | Path | None) -> Workspace:
    """A read-only workspace, or an in-memory one with ``dataset`` ingested.

    Raises :class:`ValidationError` unless exactly one of ``dataset`` and ``workspace`` is
    given, and :class:`DataError` when ``workspace`` does not exist. Use it as a context manager
    (``with open_workspace(...) as ws:``) so the connection is closed.
    """
    from shopml.data.workspace import Workspace

    if (dataset is None) == (workspace is None):
        raise ValidationError("give exactly one of dataset or workspace")
    if workspace is not None:
        if not Path(workspace).exists():
            raise DataError(f"workspace {workspace} does not exist")
        return Workspace(workspace, read_only=True)
    ws = Workspace(":memory:")
    ws.ingest_dataset(dataset)
    return ws


__all__ = ["open_workspace"]
