"""The generic loader: any shop export mapped onto a canonical table, no new code.

    shopml ingest generic clicks.tsv --table events --sep '\\t' \\
        --map user_id=SessionId,item_id=ItemId,ts=Time --ts-unit s --default event_type=click
    shopml ingest generic walmart.csv --table sales --ts-format %d-%m-%Y \\
        --map item_id=Store,date=Date,quantity=Weekly_Sales,attributes.holiday=Holiday_Flag

Formats (told by the file name): CSV/TSV/text (``.csv``, ``.tsv``, ``.txt``, ``.dat``), JSON
lines (``.jsonl``, ``.ndjson``, ``.json`` with one object per line), Parquet (``.parquet``,
``.pq``) and Excel (``.xlsx``, first sheet, needs ``openpyxl``); each may be gzipped (``.gz``)
or the single data file of a ``.zip``.

Messy text files load line by line (see :func:`scan_lines`): a line with an unbalanced quote,
too many or too few fields, bytes that are not valid in the encoding, or a truncated last line
is quarantined with its line number and reason, and every other line is ingested. The
quarantine's ``row_number`` is the line number in the (decompressed) file, the header being
line 1 (the Excel row number for ``.xlsx``, the record number for Parquet).

Extra columns go into the table's ``attributes`` JSON object: ``attributes.KEY=COLUMN`` in the
mapping, or every column named in ``attributes=[...]`` under its own name; numeric text becomes
a JSON number (forecasters read them as exogenous regressors), other text a JSON string.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import shutil
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from shopml.core.errors import IngestError, ValidationError
from shopml.data.ingest import (
    Col,
    Mapping,
    Prepared,
    Source,
    col,
    const,
    ident,
    read_parquet,
    sql_str,
)
from shopml.data.schema import TS, table

TIME_UNITS = {"s": "epoch_s", "ms": "epoch_ms"}
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".dat", ".tab")
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
PARQUET_SUFFIXES = (".parquet", ".pq")
EXCEL_SUFFIXES = (".xlsx", ".xlsm")
DELIMITERS = (",", "\t", ";", "|")
# a quoted value may hold line breaks (product descriptions); one longer than this many lines
# is taken for an unbalanced quote instead
MAX_RECORD_LINES = 1000
ATTRIBUTES_PREFIX = "attributes."


def parse_mapping(text: str) -> dict[str, str]:
    """``"user_id=SessionId,item_id=ItemId"`` -> ``{"user_id": "SessionId", ...}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValidationError(
                f"mapping entry {part!r} is not canonical=source (e.g. user_id=SessionId)"
            )
        k, v = (x.strip() for x in part.split("=", 1))
        if not k or not v:
            raise ValidationError(f"mapping entry {part!r} has an empty side")
        out[k] = v
    return out


# ---------------------------------------------------------------------------- file formats
def file_format(path: Path) -> tuple[str, str | None]:
    """(format, compression) from the name: ``text|jsonl|parquet|excel``, ``gzip|zip|None``."""
    suffixes = [s.lower() for s in path.suffixes]
    compression = None
    if suffixes and suffixes[-1] in (".gz", ".gzip"):
        compression, suffixes = "gzip", suffixes[:-1]
    elif suffixes and suffixes[-1] == ".zip":
        return "zip", "zip"
    last = suffixes[-1] if suffixes else ""
    if last in PARQUET_SUFFIXES:
        return "parquet", compression
    if last in JSONL_SUFFIXES:
        return "jsonl", compression
    if last in EXCEL_SUFFIXES:
        if compression:
            raise ValidationError(f"{path}: a compressed Excel file; unpack it first")
        return "excel", None
    return "text", compression


def _zip_member(path: Path) -> zipfile.ZipInfo:
    try:
        zf = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise IngestError(f"cannot read {path}: {exc}") from exc
    with zf:
        members = [
            m for m in zf.infolist()
            if not m.is_dir() and not m.filename.startswith("__MACOSX/")
            and not Path(m.filename).name.startswith(".")
        ]
    if len(members) != 1:
        names = [m.filename for m in members]
        raise IngestError(f"{path}: a zip file must hold exactly one data file, it holds {names}")
    return members[0]


def _read_bytes(path: Path, compression: str | None) -> bytes:
    """The file's decompressed bytes (zip: its one data file)."""
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as fh:
                return fh.read()
        if compression == "zip":
            member = _zip_member(path)
            with zipfile.ZipFile(path) as zf:
                return zf.read(member)
        return path.read_bytes()
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise IngestError(f"cannot read {path}: {exc}") from exc


def _head_text(path: Path, compression: str | None, n_bytes: int = 1 << 16) -> str:
    """The first ``n_bytes`` of the decompressed file as text (bad bytes replaced)."""
    try:
        if compression == "gzip":
            with gzip.open(path, "rb") as fh:
                raw = fh.read(n_bytes)
        elif compression == "zip":
            member = _zip_member(path)
            with zipfile.ZipFile(path) as zf, zf.open(member) as fh:
                raw = fh.read(n_bytes)
        else:
            with open(path, "rb") as fh:
                raw = fh.read(n_bytes)
    except (OSError, EOFError, zipfile.BadZipFile) as exc:
        raise IngestError(f"cannot read {path}: {exc}") from exc
    return raw.decode("utf-8", errors="replace").removeprefix("\ufeff")


def sniff_delimiter(head: str) -> str:
    """The delimiter of a text file: the candidate that splits the header line most often.

    Our own rule rather than DuckDB's sniffer, which gives up on a whole file when one line
    is malformed ("Error when sniffing file"); headers rarely hold quotes or delimiters.
    """
    first = head.splitlines()[0] if head else ""
    counts = {d: first.count(d) for d in DELIMITERS}
    best = max(DELIMITERS, key=lambda d: (counts[d], -DELIMITERS.index(d)))
    return best if counts[best] else ","


def header_names(head: str, sep: str, quote: str | None) -> list[str]:
    """Column names from the header line; empty names become ``column<i>``, repeats get ``_<n>``."""
    line = head.splitlines()[0] if head else ""
    if quote:
        fields = next(csv.reader([line], delimiter=sep, quotechar=quote), [])
    else:
        fields = line.split(sep)
    names: list[str] = []
    for i, f in enumerate(fields):
        name = f.strip() or f"column{i}"
        base, n = name, 1
        while name in names:
            name, n = f"{base}_{n}", n + 1
        names.append(name)
    if not names:
        raise IngestError("the file is empty: no header line")
    return names


@dataclass
class LineScan:
    """Where the records of a text file are, found before the file is parsed.

    ``keep`` marks lines handed to the CSV reader; ``record_start`` the kept lines that begin a
    record (a quoted value with line breaks continues a record over several lines); ``blank``
    the lines with nothing on them (no record); ``bad`` (line number, raw text, reason) the
    lines quarantined here. Line numbers are 1-based.
    """

    n_lines: int
    keep: np.ndarray
    record_start: np.ndarray
    blank: np.ndarray
    bad: list[tuple[int, str, str]] = field(default_factory=list)
    ends_with_newline: bool = True

    @property
    def clean(self) -> bool:
        return not self.bad


def _line_bounds(buf: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    nl = np.flatnonzero(buf == 10)
    starts = np.concatenate([[0], nl + 1])
    ends = np.concatenate([nl, [len(buf)]])
    ends_with_newline = len(buf) == 0 or buf[-1] == 10
    if ends_with_newline:  # the "line" after the final line break is no line
        starts, ends = starts[:-1], ends[:-1]
    return starts, ends, ends_with_newline


def scan_lines(data: bytes, sep: str, quote: str | None, n_fields: int, header: bool) -> LineScan:
    """Find unbalanced quotes without parsing: per-line quote counts, vectorised.

    A line with an odd number of quote characters opens (or closes) a quoted value that spans
    lines. The lines from one such line to the next odd one form a multi-line record when,
    parsed alone, they give exactly one record with ``n_fields`` fields; otherwise the first of
    them has an unbalanced quote and is quarantined alone, so the quote cannot swallow the rest
    of the file. Only the odd lines (few) are visited one by one.
    """
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, ends, ends_nl = _line_bounds(buf)
    n = len(starts)
    content_end = ends - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == 13))  # CRLF
    blank = content_end == starts
    keep = np.ones(n, bool)
    record_start = np.ones(n, bool)
    bad: list[tuple[int, str, str]] = []

    def text(a: int, b: int) -> str:
        return data[starts[a] : content_end[b]].decode("utf-8", errors="replace")

    if quote:
        q = np.flatnonzero(buf == ord(quote))
        counts = np.searchsorted(q, ends) - np.searchsorted(q, starts)
        odd = np.flatnonzero(counts % 2 == 1)
        i = 0
        while i < len(odd):
            a = int(odd[i])
            if header and a == 0:
                raise IngestError("the header line has an unbalanced quote")
            if i + 1 < len(odd) and odd[i + 1] - a < MAX_RECORD_LINES:
                b = int(odd[i + 1])
                try:
                    reader = csv.reader(
                        io.StringIO(text(a, b)), delimiter=sep, quotechar=quote, strict=True
                    )
                    rows = list(reader)
                except csv.Error:
                    rows = []
                if len(rows) == 1 and len(rows[0]) == n_fields:
                    record_start[a + 1 : b + 1] = False
                    blank[a + 1 : b + 1] = False
                    i += 2
                    continue
            keep[a] = False
            last = a == n - 1 and not ends_nl
            reason = "unbalanced quote"
            if last:
                reason += "; the last line, without a line end: truncated?"
            bad.append((a + 1, text(a, a), reason))
            i += 1
    return LineScan(n, keep, record_start & keep, blank & record_start & keep, bad, ends_nl)


@dataclass
class LineMap:
    """Maps the CSV reader's record numbers (1-based in the file it read, header and blank
    lines counted) and its accepted rows to line numbers in the original file."""

    record_lines: np.ndarray  # record r starts on line record_lines[r - 1]
    blank_records: np.ndarray  # record numbers of blank lines (no row)
    header: bool

    @classmethod
    def of(cls, scan: LineScan, header: bool) -> LineMap:
        return cls(
            np.flatnonzero(scan.record_start) + 1,
            np.flatnonzero(scan.blank[scan.record_start]) + 1,
            header,
        )

    def rows(self, rejected: np.ndarray, n_rows: int) -> np.ndarray | None:
        """Line of each accepted row, in order; None when the reader counted differently."""
        ids = np.arange(2 if self.header else 1, len(self.record_lines) + 1)
        ids = ids[~np.isin(ids, rejected) & ~np.isin(ids, self.blank_records)]
        if len(ids) != n_rows:
            return None
        return self.record_lines[ids - 1]

    def rejects(self, rejected: np.ndarray) -> np.ndarray:
        """Line of each rejected record number."""
        n = len(self.record_lines)
        if n == 0:
            return rejected
        ok = (rejected >= 1) & (rejected <= n)
        return np.where(ok, self.record_lines[np.clip(rejected, 1, n) - 1], rejected)


def _write_kept(data: bytes, scan: LineScan, folder: Path, name: str) -> Path:
    """The file without the quarantined lines (byte mask, vectorised)."""
    buf = np.frombuffer(data, dtype=np.uint8)
    starts, _, _ = _line_bounds(buf)
    lengths = np.diff(np.concatenate([starts, [len(buf)]]))
    out = folder / name
    buf[np.repeat(scan.keep, lengths)].tofile(out)
    return out


def _csv_sql(
    path: Path, names: list[str], sep: str, quote: str | None, encoding: str | None
) -> str:
    """DuckDB reads the file with the dialect fixed (no sniffing): every value as text, bad
    lines to the rejects table, records in file order."""
    cols = ", ".join(f"{sql_str(c)}: 'VARCHAR'" for c in names)
    opts = [
        sql_str(str(path)), "header=true", "auto_detect=false", f"columns={{{cols}}}",
        f"delim={sql_str(sep)}", "all_varchar=true", "null_padding=false", "strict_mode=true",
        "parallel=false", "ignore_errors=true", "store_rejects=true",
        "rejects_table='{rejects}'", "rejects_scan='{scans}'",
    ]
    if quote:
        opts += [f"quote={sql_str(quote)}", f"escape={sql_str(quote)}"]
    else:
        opts += ["quote=''", "escape=''"]
    if encoding:
        opts.append(f"encoding={sql_str(encoding)}")
    if str(path).lower().endswith((".gz", ".gzip")):
        opts.append("compression='gzip'")
    return f"read_csv({', '.join(opts)})"


def _lines_sql(path: Path) -> str:
    opts = (
        f"{sql_str(str(path))}, columns={{'line': 'VARCHAR'}}, delim='\\x01', quote='', escape='', "
        "header=false, auto_detect=false, all_varchar=true, ignore_errors=true, "
        "store_rejects=true, rejects_table='{rejects}', rejects_scan='{scans}', parallel=false, "
        "strict_mode=false"
    )
    if str(path).lower().endswith((".gz", ".gzip")):
        opts += ", compression='gzip'"
    return f"read_csv({opts})"


def _jsonl_keys(head: str, limit: int = 1000) -> list[str]:
    """The keys of the first objects of a JSON lines file, in first-seen order."""
    keys: dict[str, None] = {}
    for line in head.splitlines()[:limit]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            keys.update(dict.fromkeys(map(str, obj)))
    if not keys:
        raise IngestError("no JSON object in the first lines: is this a JSON lines file?")
    return list(keys)


def _jsonl_select(lines: str, keys: list[str]) -> str:
    # values are extracted only from lines that are JSON objects (DuckDB's JSON functions
    # raise on malformed text, even inside a CASE that would not use the result)
    fields = ", ".join(
        f"json_extract_string(obj, {sql_str('$.' + json.dumps(k))}) AS {ident(k)}" for k in keys
    )
    valid = (
        "(SELECT CASE WHEN coalesce(json_valid(line), false) THEN line END AS v "
        f"FROM {lines} WHERE line IS NOT NULL)"
    )
    objects = (
        "(SELECT v IS NULL OR coalesce(json_type(v) <> 'OBJECT', true) AS bad, "
        f"CASE WHEN json_type(v) = 'OBJECT' THEN v END AS obj FROM {valid})"
    )
    return f"(SELECT CASE WHEN bad THEN true END AS _bad_json, {fields} FROM {objects})"


def _excel_engine() -> str:
    """calamine (Rust, about 8x faster here) where installed, else openpyxl."""
    try:
        import python_calamine  # noqa: F401
    except ImportError:
        return "openpyxl"
    return "calamine"


def _excel_header(path: Path) -> list[str]:
    """The first sheet's column names, without reading its rows."""
    import pandas as pd

    try:
        head = pd.read_excel(path, sheet_name=0, nrows=0, engine=_excel_engine())
    except ImportError as exc:
        raise IngestError(f"{path}: reading .xlsx needs openpyxl (pip install openpyxl)") from exc
    except Exception as exc:  # the readers raise many types for a corrupt file
        raise IngestError(f"cannot read {path}: {exc}") from exc
    return [str(c) for c in head.columns]


def _excel_to_parquet(path: Path, folder: Path) -> Path:
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a core dependency
        raise IngestError("reading .xlsx needs pandas") from exc
    from shopml.core.progress import make_progress

    try:
        # openpyxl gives no progress of its own: an open-ended bar says the work goes on
        with make_progress(transient=True) as bar:
            bar.add_task(f"reading {path.name} (Excel)", total=None)
            frame = pd.read_excel(path, sheet_name=0, dtype=str, engine=_excel_engine())
    except ImportError as exc:
        raise IngestError(f"{path}: reading .xlsx needs openpyxl (pip install openpyxl)") from exc
    except Exception as exc:  # openpyxl raises many types for a corrupt file
        raise IngestError(f"cannot read {path}: {exc}") from exc
    frame.columns = [str(c) for c in frame.columns]
    out = folder / (path.stem + ".parquet")
    frame.astype("string").to_parquet(out, index=False)
    return out


@dataclass
class FileReader:
    """How the generic loader reads one file; :meth:`prepare` is the Source's ``prepare``."""

    path: Path
    sep: str | None = None
    quote: str | None = '"'
    encoding: str | None = None

    def __post_init__(self) -> None:
        self.format, self.compression = file_format(self.path)
        if self.format == "zip":
            inner = Path(_zip_member(self.path).filename)
            self.format, _ = file_format(inner)
            if self.format == "excel":
                raise ValidationError(f"{self.path}: an Excel file in a zip; unpack it first")
            if self.format == "zip":
                raise ValidationError(f"{self.path}: a zip inside a zip")

    def _text_header(self) -> tuple[str, list[str]]:
        head = _head_text(self.path, self.compression)
        sep = self.sep if self.sep is not None else sniff_delimiter(head)
        return sep, header_names(head, sep, self.quote)

    def probe(self) -> Prepared:
        """A relation with the file's columns, cheap to bind (no full read)."""
        if self.format == "parquet" and self.compression is None:
            return Prepared(read_parquet(self.path))
        if self.format == "parquet":  # a compressed one: unpacked to be read
            return self.prepare(full=True)
        if self.format == "excel":
            names = _excel_header(self.path)
        elif self.format == "jsonl":
            keys = _jsonl_keys(_head_text(self.path, self.compression))
            names = ["_bad_json", *keys]
        else:
            _, names = self._text_header()
        cols = ", ".join(f"NULL::VARCHAR AS {ident(c)}" for c in names)
        return Prepared(f"(SELECT {cols} LIMIT 0)")

    def prepare(self, full: bool = True) -> Prepared:
        """The relation to ingest, after the line scan (text) or conversion (Excel, zip)."""
        try:
            if not full:
                return self.probe()
            tmp = Path(tempfile.mkdtemp(prefix="shopml-ingest-"))
            try:
                return self._prepare(tmp)
            except BaseException:
                shutil.rmtree(tmp, ignore_errors=True)
                raise
        except IngestError as exc:
            if str(self.path) in str(exc):
                raise
            raise IngestError(f"cannot read {self.path}: {exc}") from exc

    def _prepare(self, tmp: Path) -> Prepared:
        cleanup = lambda: shutil.rmtree(tmp, ignore_errors=True)  # noqa: E731
        if self.format == "excel":
            out = _excel_to_parquet(self.path, tmp)
            return Prepared(read_parquet(out), cleanup=cleanup, row_offset=1)
        if self.format == "parquet":
            path = self.path
            if self.compression:
                path = tmp / "data.parquet"
                path.write_bytes(_read_bytes(self.path, self.compression))
            return Prepared(read_parquet(path), cleanup=cleanup)
        data = _read_bytes(self.path, self.compression)
        if self.format == "jsonl":
            keys = _jsonl_keys(data[: 1 << 16].decode("utf-8", errors="replace"))
            scan = scan_lines(data, "\x01", None, 1, header=False)
            source = self._plain_source(tmp, data, scan)
            # blank lines are no records: the reader drops them, as the CSV reader does
            return Prepared(
                _jsonl_select(_lines_sql(source), keys), cleanup=cleanup,
                line_of=LineMap.of(scan, header=False), pre_quarantined=scan.bad,
                truncated_last=None if scan.ends_with_newline else scan.n_lines,
            )
        head = data[: 1 << 16].decode("utf-8", errors="replace").removeprefix("\ufeff")
        sep = self.sep if self.sep is not None else sniff_delimiter(head)
        names = header_names(head, sep, self.quote)
        scan = scan_lines(data, sep, self.quote, len(names), header=True)
        source = self._plain_source(tmp, data, scan)
        return Prepared(
            _csv_sql(source, names, sep, self.quote, self.encoding), cleanup=cleanup,
            line_of=LineMap.of(scan, header=True), pre_quarantined=scan.bad,
            truncated_last=None if scan.ends_with_newline else scan.n_lines,
        )

    def _plain_source(self, tmp: Path, data: bytes, scan: LineScan) -> Path:
        """The file DuckDB reads: the original when nothing was cut out and DuckDB can open
        it as is, else the kept lines written uncompressed."""
        if scan.clean and self.compression != "zip":
            return self.path
        return _write_kept(data, scan, tmp, "data.txt")


def _attributes_col(pairs: dict[str, str]) -> Col:
    """``attributes`` as a JSON object of the named source columns (numbers as numbers)."""
    parts = []
    for key, source in pairs.items():
        raw = f"NULLIF(trim(CAST({ident(source)} AS VARCHAR)), '')"
        num = f"TRY_CAST({raw} AS DOUBLE)"
        value = f"CASE WHEN isfinite({num}) THEN to_json({num}) ELSE to_json({raw}) END"
        parts.append(f"{sql_str(key)}, {value}")
    return Col(f"json_object({', '.join(parts)})::VARCHAR")


def generic_source(
    path: str | Path,
    table_name: str,
    mapping: dict[str, str],
    defaults: dict[str, str] | None = None,
    ts_unit: str | None = None,
    ts_format: str | None = None,
    sep: str | None = None,
    name: str | None = None,
    attributes: list[str] | tuple[str, ...] | None = None,
    encoding: str | None = None,
    quote: str | None = '"',
) -> Source:
    """A :class:`Source` reading ``path`` into ``table_name``.

    ``mapping`` is canonical column -> source column; ``attributes.KEY`` -> source column puts
    that column into the ``attributes`` JSON under ``KEY``, and ``attributes`` lists source
    columns kept there under their own names. ``defaults`` gives constants for columns the file
    lacks (``event_type=view``). Time and date columns are parsed as Unix ``ts_unit`` (s|ms),
    with ``ts_format`` (strptime, e.g. ``%d-%m-%Y``), or by DuckDB's ISO parser.
    """
    path = Path(path)
    tbl = table(table_name)
    defaults = defaults or {}
    mapping = dict(mapping)
    n = len(ATTRIBUTES_PREFIX)
    extra = {k[n:]: v for k, v in mapping.items() if k.startswith(ATTRIBUTES_PREFIX)}
    for k in list(mapping):
        if k.startswith(ATTRIBUTES_PREFIX):
            del mapping[k]
    for c in attributes or ():
        extra.setdefault(c, c)
    if extra and "attributes" not in tbl.columns:
        raise ValidationError(
            f"table {tbl.name!r} has no attributes column; its columns are {tbl.columns}"
        )
    if extra and ("attributes" in mapping or "attributes" in defaults):
        raise ValidationError(
            "map the attributes column whole or attributes.KEY=COLUMN entries, not both"
        )
    if any(not k for k in extra):
        raise ValidationError("an attributes.KEY mapping entry has an empty KEY")
    unknown = (set(mapping) | set(defaults)) - set(tbl.columns)
    if unknown:
        raise ValidationError(
            f"table {tbl.name!r} has no column(s) {sorted(unknown)}; its columns are {tbl.columns} "
            "(extra columns go to attributes.KEY=COLUMN)"
        )
    if ts_unit is not None and ts_unit not in TIME_UNITS:
        raise ValidationError(f"--ts-unit must be one of {sorted(TIME_UNITS)}, got {ts_unit!r}")
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    parse = TIME_UNITS.get(ts_unit) if ts_unit else ts_format
    columns: dict[str, Col] = {}
    for canon, source in mapping.items():
        is_time = tbl.schema.field(canon).type in (TS, pa.date32())
        columns[canon] = col(source, parse=parse if is_time else None)
    if extra:
        columns["attributes"] = _attributes_col(extra)
    for canon, value in defaults.items():
        columns.setdefault(canon, const(value))
    reader = FileReader(path, sep=sep, quote=quote, encoding=encoding)
    checks: tuple[tuple[str, str], ...] = ()
    if reader.format == "jsonl":
        checks = (("malformed JSON line", "_bad_json IS NOT NULL"),)
    return Source(
        name=name or f"generic:{path.name}",
        path=path,
        reader="",
        mapping=Mapping(tbl.name, columns, checks=checks),
        loader="generic",
        prepare=reader.prepare,
    )


