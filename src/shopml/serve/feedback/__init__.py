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

from shopml.serve.feedback.ingest import LogFollower, LogIngester, TakeIn, read_offsets
from shopml.serve.feedback.log import (
    EVENT_COLUMNS,
    EVENTS_SCHEMA,
    OFFSETS,
    WAKE,
    WRITER_LOCK,
    AppendLog,
    FeedbackLogError,
    encode_events,
    log_files,
    parse_lines,
)
from shopml.serve.feedback.overlay import Overlay
from shopml.serve.feedback.service import Ack, FeedbackService, PumpStats

__all__ = [
    "EVENTS_SCHEMA",
    "EVENT_COLUMNS",
    "OFFSETS",
    "WAKE",
    "WRITER_LOCK",
    "Ack",
    "AppendLog",
    "FeedbackLogError",
    "FeedbackService",
    "LogFollower",
    "LogIngester",
    "Overlay",
    "PumpStats",
    "TakeIn",
    "encode_events",
    "log_files",
    "parse_lines",
    "read_offsets",
]
