"""The ingestion engine: read a file with DuckDB, map it onto a canonical table, account for every row.

A loader describes *what* a file means as a :class:`Source`: how DuckDB reads it (every column as
text, so reading never fails on a bad value), a primary :class:`Mapping` (canonical column ->
SQL expression over the file's columns) and optional derived mappings (a catalogue derived
from order lines, ...). The engine does the rest, in one transaction:

1. read the file into a staging table; lines the CSV reader rejects (too many columns,
   invalid UTF-8, ...) are kept with the reader's reason. A source with a ``prepare`` step (the
   generic loader) first scans or converts its file: lines it quarantines there (an unbalanced
   quote) are accounted for the same way, and rows get their line numbers in the file;
2. cast every mapped column to its canonical type with ``TRY_CAST``/``try_strptime``, and give
   each row every reason it fails: missing required value, unparsable value, a table check
   (negative price, unknown event type, ...), duplicate key within the file or already in the
   workspace;
3. insert the good rows, quarantine the others with source, row number, raw row and reason,
   and write an ``ingest_log`` line.

So ``rows_read == rows_accepted + rows_quarantined`` always holds, a file ingested twice adds
nothing the second time (same content fingerprint), and a file that cannot be read at all
raises :class:`~shopml.core.errors.IngestError` and leaves the workspace as it was.
No Python loop ever touches a row.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pyarrow as pa

from shopml.core.errors import IngestError, ValidationError
from shopml.data.schema import TS, Table, duckdb_type, table

_counter = itertools.count()


def sql_str(value: str) -> str:
    """Quote a Python string as a SQL literal."""
    return "'" + str(value).replace("'", "''") + "'"


def ident(name: str) -> str:
    """Quote a column name as a SQL identifier."""
    return '"' + str(name).replace('"', '""') + '"'


@dataclass(frozen=True)
class Col:
    """How one canonical column is computed from a source row.

    ``expr`` is SQL over the source columns (all text). ``parse`` says how text becomes the
    canonical type where a plain cast is not enough: a ``strptime`` format such as
    ``"%m/%d/%y %H:%M"``, or ``"epoch_s"`` / ``"epoch_ms"`` for Unix times, or ``"typed"``
    when ``expr`` already has a SQL type castable to the canonical one (in-memory frames:
    no round trip through text).
    """

    expr: str
    parse: str | None = None


def col(name: str, parse: str | None = None) -> Col:
    """A canonical column read straight from source column ``name``."""
    return Col(ident(name), parse)


def const(value: object) -> Col:
    """A canonical column set to the same literal for every row."""
    return Col("NULL" if value is None else sql_str(str(value)))


@dataclass(frozen=True)
class Mapping:
    """Map the rows of a source relation onto a canonical table."""

    table: str
    columns: dict[str, Col | str]
    # optional SQL over staged rows: for derived mappings, a complete SELECT giving the
    # canonical columns by name (it may use the views ``_stage`` and ``_accepted``)
    select: str | None = None
    # (reason, SQL over the *source* columns that is TRUE for a bad row): source-level rules
    # the canonical checks cannot see, e.g. "malformed JSON line"
    checks: tuple[tuple[str, str], ...] = ()

    def resolved(self) -> dict[str, Col]:
        return {k: (v if isinstance(v, Col) else Col(v)) for k, v in self.columns.items()}


class LineNumbers(Protocol):
    """Maps a text reader's records to line numbers of the original file (see the generic loader)."""

    def rows(self, rejected: np.ndarray, n_rows: int) -> np.ndarray | None: ...

    def rejects(self, rejected: np.ndarray) -> np.ndarray: ...


@dataclass
class Prepared:
    """What a Source's ``prepare`` hands the engine: the relation to read, and the accounting
    done before reading (lines a scan quarantined, how records map to lines)."""

    reader: str
    cleanup: Callable[[], None] | None = None
    line_of: LineNumbers | None = None
    # (line number, raw line, reason) of lines quarantined before the reader saw the file
    pre_quarantined: list[tuple[int, str, str]] = field(default_factory=list)
    # line number of the last line when the file does not end with a line break
    truncated_last: int | None = None
    # row_number = reader's row index + row_offset (Excel: the header is row 1)
    row_offset: int = 0

    def close(self) -> None:
        if self.cleanup is not None:
            self.cleanup()


@dataclass(frozen=True)
class Source:
    """One file, how to read it, and what its rows mean."""

    name: str
    path: Path
    # a DuckDB relation over the file, all columns VARCHAR (see the reader helpers); a reader
    # that joins lookup files must keep the main file's row order (rows are numbered as received)
    reader: str
    mapping: Mapping
    derived: tuple[Mapping, ...] = ()
    loader: str = "generic"
    # prepare(full) -> Prepared, for sources whose file is scanned or converted first (the
    # generic loader): full=False asks only for a relation to bind the mapping against
    prepare: Callable[[bool], Prepared] | None = None


# DuckDB's rejects error types, in the words the quarantine uses
REJECT_REASONS = {
    "MISSING COLUMNS": "too few fields",
    "TOO MANY COLUMNS": "too many fields",
    "INVALID ENCODING": "bad bytes for the encoding",
    "INVALID UNICODE": "bad bytes for the encoding",
    "UNQUOTED VALUE": "bad quoting",
    "UNTERMINATED QUOTES": "unbalanced quote",
    "LINE SIZE OVER MAXIMUM": "line too long",
    "CAST": "unparsable value",
}
#: a file that takes longer than this many seconds to read shows a progress bar
PROGRESS_AFTER_S = 2.0


@contextmanager
def read_progress(con: Any, description: str, after: float = PROGRESS_AFTER_S) -> Iterator[None]:
    """A progress bar for the DuckDB query running inside the block, shown once it has run
    ``after`` seconds (DuckDB's own per-query progress, polled from a thread)."""
    from shopml.core.progress import make_progress, progress_enabled

    if not progress_enabled():
        yield
        return
    stop = threading.Event()

    def poll() -> None:
        if stop.wait(after):
            return
        with make_progress(transient=True) as bar:
            task = bar.add_task(description, total=100)
            while not stop.wait(0.25):
                done = con.query_progress()
                if done >= 0:
                    bar.update(task, completed=done)

    con.execute("SET enable_progress_bar = true")
    con.execute("SET enable_progress_bar_print = false")
    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
        con.execute("SET enable_progress_bar = false")


# ---------------------------------------------------------------- readers (all text columns)


def read_csv(
    path: Path | str,
    sep: str | None = ",",
    header: bool = True,
    columns: list[str] | None = None,
    quote: str | None = '"',
    encoding: str | None = None,
    rejects: bool = True,
) -> str:
    """A DuckDB ``read_csv`` relation with every value as text and bad lines kept aside.

    ``columns`` names the columns of a headerless file; ``sep=None`` sniffs the delimiter.
    ``rejects=False`` is for lookup files joined into a reader: a bad line there fails the ingest
    (only the main file's rows are accounted for).
    Compression is detected from the name.
    """
    opts = [
        sql_str(str(path)),
        f"header={'true' if header else 'false'}",
        "all_varchar=true",
        "null_padding=false",
        "strict_mode=true",
        "sample_size=-1",
        "parallel=false",  # keeps file order, so row numbers are record numbers
    ]
    if rejects:
        opts += ["ignore_errors=true", "store_rejects=true", "rejects_table='{rejects}'", "rejects_scan='{scans}'"]
    if sep is not None:  # None: let DuckDB's sniffer find the delimiter
        opts.append(f"delim={sql_str(sep)}")
    if quote is not None:
        opts.append(f"quote={sql_str(quote)}")
        opts.append(f"escape={sql_str(quote)}")
    else:
        opts.append("quote=''")
        opts.append("escape=''")
    if encoding:
        opts.append(f"encoding={sql_str(encoding)}")
    if columns is not None:
        cols = ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in columns)
        opts.append(f"columns={{{cols}}}")
        opts.append("auto_detect=false")
    return f"read_csv({', '.join(opts)})"


def read_lines(path: Path | str) -> str:
    """Each line of a (possibly gzipped) text file as one column ``line``: JSON lines,
    whitespace-separated or fixed-width files are then parsed in SQL, row by row."""
    return (
        f"read_csv({sql_str(str(path))}, columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', "
        "escape='', header=false, auto_detect=false, all_varchar=true, ignore_errors=true, "
        "store_rejects=true, rejects_table='{rejects}', rejects_scan='{scans}', parallel=false, "
        "strict_mode=false)"
    )


def read_parquet(path: Path | str) -> str:
    """A Parquet file with every column cast to text (types are re-derived by the mapping)."""
    return f"(SELECT COLUMNS(*)::VARCHAR FROM read_parquet({sql_str(str(path))}))"


# ---------------------------------------------------------------- the engine


@dataclass
class IngestReport:
    """What one ingest did, per source."""

    source: str
    path: str
    table: str
    rows_read: int = 0
    rows_accepted: int = 0
    rows_quarantined: int = 0
    skipped: bool = False  # same content already ingested
    seconds: float = 0.0
    reasons: dict[str, int] = field(default_factory=dict)
    derived: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def file_fingerprint(path: Path | str) -> str:
    """SHA-256 of the file's bytes (content, not name or time, decides 'already ingested')."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _typed(c: Col, t: pa.DataType) -> tuple[str, str]:
    """(raw text expression, typed expression) for a canonical column."""
    if c.parse == "typed" and t != pa.string():
        return f"({c.expr})", f"TRY_CAST(({c.expr}) AS {duckdb_type(t)})"
    raw = f"NULLIF(trim(CAST(({c.expr}) AS VARCHAR)), '')"
    if t == pa.string():
        return raw, raw
    if t == TS or t == pa.date32():
        if c.parse in ("epoch_s", "epoch_ms"):
            scale = "1000.0" if c.parse == "epoch_ms" else "1.0"
            typed = f"to_timestamp(TRY_CAST({raw} AS DOUBLE) / {scale})"
        elif c.parse:
            typed = f"try_strptime({raw}, {sql_str(c.parse)})"
        else:
            typed = f"TRY_CAST({raw} AS TIMESTAMPTZ)"
        return raw, f"TRY_CAST({typed} AS {duckdb_type(t)})"
    return raw, f"TRY_CAST({raw} AS {duckdb_type(t)})"


def _check_sql(tbl: Table, cols: dict[str, Col]) -> tuple[list[str], str]:
    """Typed select list and the SQL expression giving every reason a row is bad (or NULL)."""
    select, reasons = [], []
    for f in tbl.schema:
        c = cols.get(f.name)
        if c is None:
            select.append(f"CAST(NULL AS {duckdb_type(f.type)}) AS {ident(f.name)}")
            if f.name in tbl.required:
                raise ValidationError(f"mapping for table {tbl.name!r} lacks required column {f.name!r}")
            continue
        raw, typed = _typed(c, f.type)
        select.append(f"{typed} AS {ident(f.name)}")
        if f.name in tbl.required:
            reasons.append(f"CASE WHEN {raw} IS NULL THEN 'missing {f.name}' END")
        if f.type != pa.string():
            reasons.append(
                f"CASE WHEN {raw} IS NOT NULL AND {typed} IS NULL "
                f"THEN 'unparsable {f.name}: ' || left(CAST({raw} AS VARCHAR), 60) END"
            )
        elif f.name in tbl.json_columns:
            reasons.append(
                f"CASE WHEN {raw} IS NOT NULL AND NOT coalesce(json_valid({raw}), false) "
                f"THEN 'invalid JSON in {f.name}' END"
            )
    return select, ", ".join(reasons) if reasons else "NULL"


class Ingestor:
    """Runs :class:`Source` objects against a DuckDB connection (used by Workspace)."""

    def __init__(self, con) -> None:  # duckdb.DuckDBPyConnection
        self.con = con

    def _stage(self, src: Source, tag: str, prep: Prepared | None) -> int:
        """Read the file into ``_stage_<tag>``; the number of records the reader rejected."""
        rejects, scans = f"_rej_{tag}", f"_scan_{tag}"
        reader = src.reader.replace("{rejects}", rejects).replace("{scans}", scans)
        try:
            with read_progress(self.con, f"reading {Path(src.path).name}"):
                self.con.execute(
                    f"CREATE TEMP TABLE _stage_{tag} AS "
                    f"SELECT row_number() OVER () AS _row, * FROM {reader}"
                )
        except Exception as exc:  # duckdb raises many types; all mean "cannot read this file"
            raise IngestError(f"cannot read {src.path}: {str(exc).splitlines()[0]}") from exc
        if prep is not None and prep.row_offset:
            self.con.execute(f"UPDATE _stage_{tag} SET _row = _row + {int(prep.row_offset)}")
        if "store_rejects=true" not in reader:
            return 0
        rejected = self.con.execute(f"SELECT DISTINCT line FROM {rejects}").fetchnumpy()["line"]
        rejected = np.asarray(rejected, dtype=np.int64)
        if prep is not None and prep.line_of is not None:
            self._renumber(tag, prep.line_of, rejected)
        return len(rejected)

    def _renumber(self, tag: str, line_of: LineNumbers, rejected: np.ndarray) -> None:
        """Give staged rows and rejected records their line numbers in the original file."""
        n_rows = self.con.execute(f"SELECT count(*) FROM _stage_{tag}").fetchall()[0][0]
        lines = line_of.rows(rejected, n_rows)
        if lines is not None and n_rows:
            self.con.register(f"_lines_{tag}", pa.table({"i": np.arange(1, n_rows + 1), "line": lines}))
            try:
                self.con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _stage_{tag} AS SELECT l.line AS _row, "
                    f"s.* EXCLUDE (_row) FROM _stage_{tag} s JOIN _lines_{tag} l ON s._row = l.i "
                    "ORDER BY l.line"
                )
            finally:
                self.con.unregister(f"_lines_{tag}")
        if len(rejected):
            mapped = line_of.rejects(rejected)
            self.con.register(f"_rl_{tag}", pa.table({"line": rejected, "orig": mapped}))
            try:
                self.con.execute(
                    f"UPDATE _rej_{tag} r SET line = m.orig FROM _rl_{tag} m WHERE r.line = m.line"
                )
            finally:
                self.con.unregister(f"_rl_{tag}")

    def run(self, src: Source, force: bool = False) -> IngestReport:
        t0 = time.perf_counter()
        path = Path(src.path)
        if not path.exists():
            raise IngestError(f"{path}: no such file")
        if path.is_dir():
            raise IngestError(f"{path}: is a folder, expected a file")
        tbl = table(src.mapping.table)
        report = IngestReport(source=src.name, path=str(path), table=tbl.name)
        self._probe(src)  # a wrong mapping fails now, even for a file ingested before
        fp = file_fingerprint(path)
        seen = self.con.execute(
            "SELECT count(*) FROM ingest_log WHERE fingerprint = ? AND tables = ? AND loader = ?",
            [fp, tbl.name, src.loader],
        ).fetchall()[0][0]
        if seen and not force:
            report.skipped = True
            return report

        return self._execute(src, tbl, report, fp, t0)

    def run_relation(self, src: Source) -> IngestReport:
        """Ingest an in-memory relation (``Workspace.append``): same rules, no file fingerprint."""
        self._probe(src)
        tbl = table(src.mapping.table)
        report = IngestReport(source=src.name, path=str(src.path), table=tbl.name)
        return self._execute(src, tbl, report, None, time.perf_counter())

    def _execute(self, src: Source, tbl: Table, report: IngestReport, fp: str | None, t0: float) -> IngestReport:
        tag = f"{next(_counter)}"
        prep = src.prepare(True) if src.prepare is not None else None
        if prep is not None:
            src = dataclasses.replace(src, reader=prep.reader)
        try:
            self.con.execute("BEGIN TRANSACTION")
            try:
                self._run_in_tx(src, tbl, tag, report, prep)
                report.seconds = time.perf_counter() - t0
                self.con.execute(
                    "INSERT INTO ingest_log VALUES (?, ?, ?, ?, ?, ?, ?, ?, now(), ?)",
                    [src.name, src.loader, report.path, fp, report.rows_read, report.rows_accepted,
                     report.rows_quarantined, tbl.name, report.seconds],
                )
                self.con.execute("COMMIT")
            except BaseException:
                self.con.execute("ROLLBACK")
                raise
            finally:
                for t in (f"_stage_{tag}", f"_typed_{tag}", f"_rej_{tag}", f"_scan_{tag}"):
                    self.con.execute(f"DROP TABLE IF EXISTS {t}")
                self.con.execute("DROP VIEW IF EXISTS _stage")
                self.con.execute("DROP VIEW IF EXISTS _accepted")
        finally:
            if prep is not None:
                prep.close()
        return report

    def _run_in_tx(
        self, src: Source, tbl: Table, tag: str, report: IngestReport, prep: Prepared | None = None
    ) -> None:
        n_rej = self._stage(src, tag, prep)
        stage, typed = f"_stage_{tag}", f"_typed_{tag}"
        cols = src.mapping.resolved()
        select, reasons = _check_sql(tbl, cols)
        for reason, pred in src.mapping.checks:
            reasons += f", CASE WHEN coalesce(({pred}), false) THEN {sql_str(reason)} END"
        self.con.execute(
            f"CREATE TEMP TABLE {typed} AS SELECT _row, {', '.join(select)}, "
            f"NULLIF(concat_ws('; ', {reasons}), '') AS _reason FROM {stage}"
        )
        self._apply_checks_and_keys(tbl, typed)
        n_read = self.con.execute(f"SELECT count(*) FROM {stage}").fetchall()[0][0]
        pre = prep.pre_quarantined if prep is not None else []
        report.rows_read = n_read + n_rej + len(pre)
        collist = ", ".join(ident(c) for c in tbl.columns)
        self.con.execute(
            f"INSERT INTO {ident(tbl.name)} ({collist}) SELECT {collist} FROM {typed} "
            "WHERE _reason IS NULL ORDER BY _row"
        )
        self.con.execute(
            f"INSERT INTO quarantine SELECT {sql_str(src.name)}, {sql_str(tbl.name)}, t._row, "
            f"to_json(s)::VARCHAR, t._reason, now() FROM {typed} t JOIN {stage} s USING (_row) "
            "WHERE t._reason IS NOT NULL"
        )
        unreadable: dict[str, int] = {}
        if n_rej:
            unreadable = self._quarantine_rejects(src, tbl, tag, prep)
        if pre:
            self.con.register(
                f"_pre_{tag}",
                pa.table({
                    "line": pa.array([p[0] for p in pre], pa.int64()),
                    "raw": pa.array([p[1] for p in pre], pa.string()),
                    "reason": pa.array([f"unreadable line: {p[2]}" for p in pre], pa.string()),
                }),
            )
            try:
                self.con.execute(
                    f"INSERT INTO quarantine SELECT {sql_str(src.name)}, {sql_str(tbl.name)}, line, "
                    f"raw, reason, now() FROM _pre_{tag}"
                )
            finally:
                self.con.unregister(f"_pre_{tag}")
            for p in pre:
                key = "unreadable line: " + p[2].split(";")[0]
                unreadable[key] = unreadable.get(key, 0) + 1
        reasons_rows = self.con.execute(
            f"SELECT _reason, count(*) FROM {typed} WHERE _reason IS NOT NULL GROUP BY 1"
        ).fetchall()
        report.reasons = {r: int(n) for r, n in reasons_rows}
        for r, n in unreadable.items():
            report.reasons[r] = report.reasons.get(r, 0) + n
        report.rows_quarantined = sum(report.reasons.values())
        report.rows_accepted = report.rows_read - report.rows_quarantined
        self.con.execute(f"CREATE OR REPLACE TEMP VIEW _stage AS SELECT * FROM {stage}")
        self.con.execute(
            f"CREATE OR REPLACE TEMP VIEW _accepted AS SELECT * FROM {typed} WHERE _reason IS NULL"
        )
        for d in src.derived:
            report.derived[d.table] = self._derive(src, d, tag)

    def _quarantine_rejects(
        self, src: Source, tbl: Table, tag: str, prep: Prepared | None
    ) -> dict[str, int]:
        """Quarantine the records the reader rejected, one row per line, with a plain reason;
        returns the counts per reason."""
        cases = " ".join(f"WHEN {sql_str(k)} THEN {sql_str(v)}" for k, v in REJECT_REASONS.items())
        last = prep.truncated_last if prep is not None else None
        trunc = (
            f" || CASE WHEN line = {int(last)} THEN '; the last line, without a line end: truncated?' "
            "ELSE '' END"
            if last is not None else ""
        )
        kind = "arg_min(error_type::VARCHAR, column_idx)"
        self.con.execute(
            f"CREATE TEMP TABLE _rq_{tag} AS SELECT line, any_value(csv_line) AS raw, "
            f"'unreadable line: ' || coalesce(CASE {kind} {cases} END, lower({kind})) AS short, "
            f"string_agg(DISTINCT error_message, '; ') AS detail, line AS _l "
            f"FROM _rej_{tag} GROUP BY line"
        )
        try:
            self.con.execute(
                f"INSERT INTO quarantine SELECT {sql_str(src.name)}, {sql_str(tbl.name)}, line, raw, "
                f"short || ' (' || detail || ')'{trunc.replace('line =', '_l =')}, now() FROM _rq_{tag}"
            )
            rows = self.con.execute(f"SELECT short, count(*) FROM _rq_{tag} GROUP BY 1").fetchall()
        finally:
            self.con.execute(f"DROP TABLE IF EXISTS _rq_{tag}")
        return {r: int(n) for r, n in rows}

    def _probe(self, src: Source) -> None:
        """Bind the reader and the mapping without reading the data (errors name file and column)."""
        tag = f"probe_{next(_counter)}"
        prep = src.prepare(False) if src.prepare is not None else None
        if prep is not None:
            src = dataclasses.replace(src, reader=prep.reader)
        reader = src.reader.replace("{rejects}", f"_rej_{tag}").replace("{scans}", f"_scan_{tag}")
        # binding only needs the header: do not let the sniffer read the whole file here
        reader = reader.replace("sample_size=-1", "sample_size=2048")
        try:
            # an empty table with the file's columns: expressions bind against it without re-reading
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE _probe AS SELECT 0::BIGINT AS _row, * FROM {reader} LIMIT 0"
            )
            cols = [r[0] for r in self.con.execute("DESCRIBE _probe").fetchall()]
        except Exception as exc:
            raise IngestError(f"cannot read {src.path}: {str(exc).splitlines()[0]}") from exc
        try:
            tbl = table(src.mapping.table)
            unknown = set(src.mapping.columns) - set(tbl.columns)
            if unknown:
                raise ValidationError(
                    f"{src.name}: table {tbl.name!r} has no column(s) {sorted(unknown)}; "
                    f"its columns are {tbl.columns}"
                )
            self._check_columns_exist(src, src.mapping.resolved(), [c for c in cols if c != "_row"], "_probe")
        finally:
            self.con.execute("DROP TABLE IF EXISTS _probe")
            self.con.execute(f"DROP TABLE IF EXISTS _rej_{tag}")
            self.con.execute(f"DROP TABLE IF EXISTS _scan_{tag}")

    def _check_columns_exist(self, src: Source, cols: dict[str, Col], stage_cols: list[str], stage: str) -> None:
        # Compile each expression alone so a wrong column name gives a clear message.
        for name, c in cols.items():
            try:
                self.con.execute(f"DESCRIBE SELECT {c.expr} FROM {stage}")  # binds, runs nothing
            except Exception as exc:
                raise IngestError(
                    f"{src.path}: cannot compute column {name!r} from {c.expr}: "
                    f"{str(exc).splitlines()[0]} (the file has columns {stage_cols})"
                ) from exc

    def _apply_checks_and_keys(self, tbl: Table, typed: str) -> None:
        for reason, pred in tbl.checks:
            self.con.execute(
                f"UPDATE {typed} SET _reason = concat_ws('; ', _reason, {sql_str(reason)}) "
                f"WHERE coalesce({pred}, false)"
            )
        if not tbl.key:
            return
        key = ", ".join(ident(k) for k in tbl.key)
        notnull = " AND ".join(f"{ident(k)} IS NOT NULL" for k in tbl.key)
        # duplicates inside the file: the first occurrence wins
        self.con.execute(
            f"UPDATE {typed} SET _reason = 'duplicate key' WHERE _reason IS NULL AND {notnull} "
            f"AND _row NOT IN (SELECT min(_row) FROM {typed} WHERE _reason IS NULL AND {notnull} "
            f"GROUP BY {key})"
        )
        # keys the workspace already holds (another file, an earlier export)
        self.con.execute(
            f"UPDATE {typed} SET _reason = 'duplicate key: already in workspace' "
            f"WHERE _reason IS NULL AND {notnull} AND ({key}) IN "
            f"(SELECT ({key}) FROM {ident(tbl.name)})"
        )

    def _derive(self, src: Source, d: Mapping, tag: str) -> int:
        """Insert rows derived from the accepted rows (e.g. a catalogue from order lines).

        Derived rows never replace what the workspace holds (first writer wins per key) and
        ones that fail a check are quarantined with row_number NULL.
        """
        tbl = table(d.table)
        dtag = f"{tag}_{tbl.name}"
        base = d.select if d.select else "SELECT * FROM _accepted"
        cols = d.resolved() if d.columns else {c: Col(ident(c)) for c in tbl.columns}
        select, reasons = _check_sql(tbl, cols)
        self.con.execute(
            f"CREATE TEMP TABLE _d_{dtag} AS SELECT row_number() OVER () AS _row, {', '.join(select)}, "
            f"NULLIF(concat_ws('; ', {reasons}), '') AS _reason FROM ({base}) AS _src"
        )
        self._apply_checks_and_keys(tbl, f"_d_{dtag}")
        collist = ", ".join(ident(c) for c in tbl.columns)
        fields = ", ".join(f"{sql_str(c)}, d.{ident(c)}" for c in tbl.columns)
        n = self.con.execute(
            f"INSERT INTO {ident(tbl.name)} ({collist}) SELECT {collist} FROM _d_{dtag} "
            "WHERE _reason IS NULL"
        ).fetchall()[0][0]
        # rows that are already in the workspace are not problems of a derived table
        self.con.execute(
            f"INSERT INTO quarantine SELECT {sql_str(src.name + ' -> ' + tbl.name)}, "
            f"{sql_str(tbl.name)}, NULL, json_object({fields})::VARCHAR, d._reason, now() FROM _d_{dtag} d "
            "WHERE d._reason IS NOT NULL AND d._reason NOT LIKE 'duplicate key%'"
        )
        self.con.execute(f"DROP TABLE _d_{dtag}")
        return int(n)
