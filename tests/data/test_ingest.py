"""The ingestion engine: every row accounted for, atomic, idempotent, clear errors."""

from __future__ import annotations

import gzip
import string
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopml.core.errors import IngestError, ValidationError
from shopml.data import Workspace
from shopml.data.loaders.generic import generic_source, parse_mapping

EVENTS_MAP = {"user_id": "user", "item_id": "item", "ts": "ts", "event_type": "type", "price": "price"}


def write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text if isinstance(text, bytes) else text.encode())
    return path


def ingest_events(ws: Workspace, path: Path, **kw):
    return ws.ingest(generic_source(path, "events", EVENTS_MAP, **kw))[0]


def test_every_bad_row_is_quarantined_with_its_reason(tmp_path):
    f = write(
        tmp_path / "e.csv",
        "user,item,ts,type,price\n"
        "u1,i1,2024-01-01 10:00:00,view,1.5\n"  # good
        "u2,i2,not a time,view,1\n"  # unparsable ts
        ",i3,2024-01-01 10:00:00,view,1\n"  # no user and no session
        "u4,i4,2024-01-01 10:00:00,teleport,1\n"  # unknown event type
        "u5,i5,2024-01-01 10:00:00,view,-3\n"  # negative price
        "u6,i6,2024-01-01 10:00:00,view,abc\n"  # unparsable price
        "u7,i7,,view,1\n"  # missing ts
        "u8,i8,2024-01-01 10:00:00,view,1,surplus\n",  # too many columns
    )
    with Workspace() as ws:
        r = ingest_events(ws, f)
        assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (8, 1, 7)
        q = ws.sql("SELECT reason FROM quarantine ORDER BY row_number")["reason"].tolist()
        joined = " | ".join(q)
        for reason in ["unparsable ts: not a time", "missing user_id and session_id", "unknown event_type",
                       "negative price", "unparsable price: abc", "missing ts", "unreadable line"]:
            assert reason in joined
        raw = ws.sql("SELECT raw FROM quarantine WHERE reason LIKE 'unknown%'")["raw"][0]
        assert "teleport" in raw  # the raw row is kept, so nothing is lost
        assert ws.count("events") == 1


def test_reingesting_same_content_adds_nothing(tmp_path):
    f = write(tmp_path / "e.csv", "user,item,ts,type,price\nu1,i1,2024-01-01,view,1\n")
    with Workspace() as ws:
        first = ingest_events(ws, f)
        copy = write(tmp_path / "renamed.csv", f.read_bytes())
        again = ingest_events(ws, copy)
        assert first.rows_accepted == 1 and again.skipped
        assert ws.count("events") == 1 and ws.count("ingest_log") == 1


def test_keys_dedupe_within_file_and_against_workspace(tmp_path):
    items = {"item_id": "id", "title": "t", "price": "p"}
    a = write(tmp_path / "a.csv", "id,t,p\n1,one,1\n2,two,2\n1,uno,1\n")
    b = write(tmp_path / "b.csv", "id,t,p\n2,deux,2\n3,three,3\n")
    with Workspace() as ws:
        ra = ws.ingest(generic_source(a, "items", items))[0]
        rb = ws.ingest(generic_source(b, "items", items))[0]
        assert ra.reasons == {"duplicate key": 1} and rb.reasons == {"duplicate key: already in workspace": 1}
        assert ws.sql("SELECT item_id, title FROM items ORDER BY item_id").values.tolist() == [
            ["1", "one"], ["2", "two"], ["3", "three"]]


def test_failed_ingest_leaves_workspace_unchanged(tmp_path, monkeypatch):
    good = write(tmp_path / "good.csv", "user,item,ts,type,price\nu1,i1,2024-01-01,view,1\n")
    other = write(tmp_path / "other.csv", "user,item,ts,type,price\nu2,i2,2024-01-02,view,1\n")
    with Workspace(tmp_path / "w.duckdb") as ws:
        ingest_events(ws, good)
        before = (ws.count("events"), ws.count("quarantine"), ws.count("ingest_log"))
        from shopml.data import ingest as engine

        def boom(*a, **k):
            raise RuntimeError("disk full")

        monkeypatch.setattr(engine.Ingestor, "_apply_checks_and_keys", boom)
        with pytest.raises(RuntimeError, match="disk full"):
            ingest_events(ws, other)
        assert (ws.count("events"), ws.count("quarantine"), ws.count("ingest_log")) == before


def test_unreadable_file_fails_with_file_name(tmp_path):
    with Workspace() as ws:
        with pytest.raises(IngestError, match="no such file"):
            ingest_events(ws, tmp_path / "missing.csv")
        bad_gz = write(tmp_path / "x.csv.gz", b"not gzip at all")
        with pytest.raises(IngestError, match="x.csv.gz"):
            ingest_events(ws, bad_gz)
        assert ws.count("ingest_log") == 0


def test_mapping_errors_name_the_column(tmp_path):
    f = write(tmp_path / "e.csv", "user,item,ts,type,price\nu1,i1,2024-01-01,view,1\n")
    with Workspace() as ws:
        with pytest.raises(IngestError, match="Nope"):
            ws.ingest(generic_source(f, "events", {"user_id": "Nope", "ts": "ts", "event_type": "type"}))
        with pytest.raises(ValidationError, match="no column"):
            generic_source(f, "events", {"colour": "user"})
        with pytest.raises(ValidationError, match="unknown table"):
            generic_source(f, "tables_of_the_law", {"a": "b"})
    with pytest.raises(ValidationError):
        parse_mapping("user_id")


def test_unix_times_and_gzip(tmp_path):
    f = tmp_path / "clicks.tsv.gz"
    with gzip.open(f, "wt") as fh:
        fh.write("SessionId\tItemId\tTime\n1\ta\t1700000000\n1\tb\t1700000060\n")
    with Workspace() as ws:
        src = generic_source(f, "events", {"session_id": "SessionId", "item_id": "ItemId", "ts": "Time"},
                             defaults={"event_type": "click"}, ts_unit="s", sep="\t")
        r = ws.ingest(src)[0]
        assert r.rows_accepted == 2
        ts = ws.sql("SELECT epoch(ts) AS e FROM events ORDER BY ts")["e"].tolist()
        assert ts == [1700000000, 1700000060]


def test_append_frame_uses_the_same_rules():
    import pandas as pd

    frame = pd.DataFrame({"item_id": ["a", "b", None], "price": [1.0, -2.0, 3.0]})
    with Workspace() as ws:
        r = ws.append("items", frame, source="unit")
        assert (r.rows_read, r.rows_accepted) == (3, 1)
        assert set(r.reasons) == {"negative price", "missing item_id"}
        with pytest.raises(ValidationError, match="no column"):
            ws.append("items", pd.DataFrame({"colour": ["red"]}))


# --------------------------------------------------------------------- property-based
cell = st.text(alphabet=string.printable + "éü€\x00", max_size=12)
row = st.lists(cell, min_size=0, max_size=7)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=st.lists(row, max_size=25), garbage=st.binary(max_size=40), header=st.booleans())
def test_malformed_input_never_crashes_and_never_loses_a_row(tmp_path_factory, rows, garbage, header):
    """Random cells, ragged rows, garbage bytes: either a clean IngestError or full accounting."""
    path = tmp_path_factory.mktemp("fuzz") / "f.csv"
    lines = ["user,item,ts,type,price"] if header else []
    lines += [",".join(c.replace("\n", " ").replace("\r", " ") for c in r) for r in rows]
    path.write_bytes("\n".join(lines).encode("utf-8", "surrogateescape") + b"\n" + garbage)
    with Workspace() as ws:
        try:
            r = ingest_events(ws, path)
        except IngestError as exc:
            assert str(path) in str(exc)
            assert ws.count("events") == 0 and ws.count("quarantine") == 0
            return
        assert r.rows_read == r.rows_accepted + r.rows_quarantined
        assert ws.count("events") == r.rows_accepted
        assert ws.count("quarantine") == r.rows_quarantined
