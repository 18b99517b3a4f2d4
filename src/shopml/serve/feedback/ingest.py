"""The one writer that takes every log into the workspace, and the follower of other logs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa

from shopml.core.persist import atomic_write_json, fsync_dir, read_json
from shopml.data.locking import open_workspace
from shopml.serve.feedback.log import (
    _MAX_READ,
    EVENTS_SCHEMA,
    OFFSETS,
    _owner_alive,
    _read_complete,
    log,
    log_files,
    parse_lines,
)


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
                    "SELECT event_id FROM events "
                    "WHERE event_id IN (SELECT event_id FROM _feedback_ids)"
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
                # an unterminated tail of a dead writer was never acknowledged: drop it with the
                # file
                data, _ = _read_complete(path, done)
                if data:
                    continue
            if _owner_alive(path):
                continue
            path.unlink(missing_ok=True)
            self.offsets.pop(path.name, None)
            removed += 1
        if removed:
            fsync_dir(self.folder)
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
