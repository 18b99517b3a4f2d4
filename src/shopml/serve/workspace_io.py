"""Short-lived workspace connections that coexist with other server processes.

The server never keeps the workspace open: every read (at load) and every write (feedback
take-in) opens it briefly with :func:`shopml.data.locking.open_workspace`, the one opener that
retries while another process holds the file (kept importable from here for the service).
"""

from __future__ import annotations

from shopml.data.locking import open_workspace

__all__ = ["open_workspace"]
