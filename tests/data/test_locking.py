"""Opening a workspace another process holds: the one retrying opener waits, then gives up."""

import subprocess
import sys
import textwrap
import time

import pytest

from shopml.core.errors import DataError
from shopml.data.locking import connect, open_workspace
from shopml.data.workspace import Workspace


def _hold(path, seconds: float) -> subprocess.Popen:
    """Another process that opens the workspace for writing and keeps it for ``seconds``."""
    code = textwrap.dedent(
        f"""
        import sys, time
        from shopml.data.workspace import Workspace
        ws = Workspace({str(path)!r})
        print("held", flush=True)
        time.sleep({seconds})
        ws.close()
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


@pytest.fixture
def workspace(tmp_path):
    path = tmp_path / "shop.duckdb"
    Workspace(path).close()
    return path


def test_waits_for_the_other_process_then_opens(workspace):
    holder = _hold(workspace, 1.0)
    try:
        t0 = time.monotonic()
        with open_workspace(workspace, read_only=True, timeout_s=30) as ws:
            assert ws.count("events") == 0
        # it did wait: the holder still had the file when the first attempt was made
        assert time.monotonic() - t0 > 0.2
    finally:
        holder.wait(timeout=30)


def test_gives_up_with_a_clear_error(workspace, tmp_path):
    holder = _hold(workspace, 3.0)
    try:
        with pytest.raises(DataError, match="(?i)lock"):
            connect(workspace, read_only=True, timeout_s=0.2)
    finally:
        holder.wait(timeout=30)
    with pytest.raises(DataError, match="no workspace"):
        connect(tmp_path / "missing.duckdb")
