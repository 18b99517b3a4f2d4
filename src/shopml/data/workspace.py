"""The Workspace: one DuckDB file holding a shop's canonical tables, its quarantine and ingest log."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pyarrow as pa

from shopml.core.errors import DataError, ValidationError
from shopml.data.ingest import Ingestor, IngestReport, Source
from shopml.data.schema import INGEST_LOG, QUARANTINE, TABLES, ddl, table


class Workspace:
    """A shop's data in one DuckDB file (``":memory:"`` for a throw-away one).

    >>> ws = Workspace("shop.duckdb")
    >>> ws.ingest_dataset("online-retail")          # a named loader
    >>> ws.df("orders").head()
    """

    def __init__(self, path: str | Path = ":memory:", read_only: bool = False) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(self.path, read_only=read_only)
        except duckdb.Error as exc:
            raise DataError(f"cannot open workspace {self.path}: {exc}") from exc
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        threads = os.environ.get("SHOPML_DUCKDB_THREADS")
        if threads:
            self.con.execute(f"SET threads = {int(threads)}")
        if not read_only:
            self._create()

    # ------------------------------------------------------------------ lifecycle
    def _create(self) -> None:
        for name, t in TABLES.items():
            self.con.execute(ddl(name, t.schema))
        self.con.execute(ddl("quarantine", QUARANTINE))
        self.con.execute(ddl("ingest_log", INGEST_LOG))

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> Workspace:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Workspace({self.path!r})"

    # ------------------------------------------------------------------ writing
    def ingest(self, sources: Source | list[Source], force: bool = False) -> list[IngestReport]:
        """Ingest one or more sources; each is its own transaction (see :mod:`shopml.data.ingest`)."""
        if isinstance(sources, Source):
            sources = [sources]
        ing = Ingestor(self.con)
        return [ing.run(s, force=force) for s in sources]

    def ingest_dataset(self, name: str, path: str | Path | None = None, force: bool = False) -> list[IngestReport]:
        """Ingest a named dataset (see ``shopml datasets``) from ``path`` or the data directory."""
        from shopml.data.loaders import get_loader

        loader = get_loader(name)
        return self.ingest(loader.sources(loader.locate(path)), force=force)

    def append(self, name: str, frame: pd.DataFrame | pa.Table, source: str = "api") -> IngestReport:
        """Validate and append in-memory rows to a canonical table (same rules as files).

        Columns missing from ``frame`` are NULL; columns the table does not have are an error.
        Rows that fail a rule are quarantined under ``source``; the rest commit atomically.
        """
        from shopml.data.ingest import Mapping, ident

        tbl = table(name)
        arrow = frame if isinstance(frame, pa.Table) else pa.Table.from_pandas(frame, preserve_index=False)
        extra = set(arrow.column_names) - set(tbl.columns)
        if extra:
            raise ValidationError(f"table {name!r} has no column(s) {sorted(extra)}; its columns are {tbl.columns}")
        view = f"_append_{abs(hash((source, id(arrow))))}"
        self.con.register(view, arrow)
        try:
            src = Source(
                name=source,
                path=Path(self.path),
                reader=f"(SELECT * FROM {view})",
                mapping=Mapping(name, {c: _column(ident(c), arrow.schema.field(c).type) for c in arrow.column_names}),
                loader="append",
            )
            return Ingestor(self.con).run_relation(src)
        finally:
            self.con.unregister(view)

    # ------------------------------------------------------------------ reading
    def sql(self, query: str, params: list[Any] | None = None) -> pd.DataFrame:
        """Run a SQL query and return a pandas DataFrame."""
        return self.con.execute(query, params or []).df()

    def arrow(self, name: str) -> pa.Table:
        """A whole canonical table as Arrow, with its canonical schema."""
        tbl = table(name)
        return self.con.execute(f'SELECT * FROM "{tbl.name}"').fetch_arrow_table()

    def df(self, name: str, columns: list[str] | None = None, where: str | None = None) -> pd.DataFrame:
        """A canonical table (optionally some columns / a SQL filter) as a pandas DataFrame."""
        tbl = table(name)
        cols = ", ".join(f'"{c}"' for c in (columns or tbl.columns))
        q = f'SELECT {cols} FROM "{tbl.name}"' + (f" WHERE {where}" if where else "")
        return self.con.execute(q).df()

    def count(self, name: str) -> int:
        """Number of rows in a table (canonical, ``quarantine`` or ``ingest_log``)."""
        if name not in TABLES and name not in ("quarantine", "ingest_log"):
            table(name)  # raises a clear error
        return int(self.con.execute(f'SELECT count(*) FROM "{name}"').fetchall()[0][0])

    def info(self) -> dict[str, Any]:
        """Row counts and time ranges per table, quarantine counts per reason, ingest history."""
        tables: dict[str, Any] = {}
        for name, t in TABLES.items():
            entry: dict[str, Any] = {"rows": self.count(name)}
            for c in ("ts", "date", "signup_ts"):
                if c in t.columns and entry["rows"]:
                    lo, hi = self.con.execute(f'SELECT min("{c}"), max("{c}") FROM "{name}"').fetchall()[0]
                    if lo is not None:
                        entry["time_range"] = [_iso(lo), _iso(hi)]
                    break
            tables[name] = entry
        reasons = self.con.execute(
            "SELECT table_name, regexp_replace(reason, ': .*', '') AS r, count(*) FROM quarantine "
            "GROUP BY 1, 2 ORDER BY 3 DESC"
        ).fetchall()
        quarantine: dict[str, dict[str, int]] = {}
        for tname, r, n in reasons:
            quarantine.setdefault(tname, {})[r] = int(n)
        log = self.con.execute(
            "SELECT source, loader, tables, rows_read, rows_accepted, rows_quarantined, "
            "strftime(started_at, '%Y-%m-%dT%H:%M:%SZ'), round(seconds, 3) FROM ingest_log ORDER BY started_at"
        ).fetchall()
        keys = ["source", "loader", "table", "rows_read", "rows_accepted", "rows_quarantined", "started_at", "seconds"]
        return {
            "workspace": self.path,
            "tables": tables,
            "quarantine": {"rows": self.count("quarantine"), "by_reason": quarantine},
            "ingests": [dict(zip(keys, row, strict=True)) for row in log],
        }

    def fingerprint(self, name: str) -> str:
        """A cheap content fingerprint of a table (row count + order-free hash), for caching and registry metadata."""
        tbl = table(name)
        n, h = self.con.execute(f'SELECT count(*), coalesce(bit_xor(hash(t)), 0) FROM "{tbl.name}" t').fetchall()[0]
        return f"{n}:{h:x}"

    def to_json(self) -> str:
        return json.dumps(self.info(), indent=2, default=str)


def _column(expr: str, t: pa.DataType):
    """How an in-memory column maps: typed values are cast directly (naive times are UTC),
    text goes through the same parsing as files."""
    from shopml.data.ingest import Col

    typed = (
        pa.types.is_integer(t) or pa.types.is_floating(t) or pa.types.is_boolean(t)
        or pa.types.is_timestamp(t) or pa.types.is_date(t)
    )
    return Col(expr, parse="typed" if typed else None)


def _iso(value: Any) -> str:
    """A time as ISO text to the second (UTC 'Z'), a date as YYYY-MM-DD."""
    if hasattr(value, "hour"):
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    return str(value)
