"""The generic loader: any CSV/TSV/Parquet export mapped onto a canonical table, no new code.

    shopml ingest generic clicks.tsv --table events --sep '\\t' \\
        --map user_id=SessionId,item_id=ItemId,ts=Time --ts-unit s --default event_type=click
"""

from __future__ import annotations

from pathlib import Path

from shopml.core.errors import ValidationError
from shopml.data.ingest import Col, Mapping, Source, col, const, read_csv, read_parquet
from shopml.data.schema import TS, table

TIME_UNITS = {"s": "epoch_s", "ms": "epoch_ms"}


def parse_mapping(text: str) -> dict[str, str]:
    """``"user_id=SessionId,item_id=ItemId"`` -> ``{"user_id": "SessionId", "item_id": "ItemId"}``."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        if "=" not in part:
            raise ValidationError(f"mapping entry {part!r} is not canonical=source (e.g. user_id=SessionId)")
        k, v = (x.strip() for x in part.split("=", 1))
        if not k or not v:
            raise ValidationError(f"mapping entry {part!r} has an empty side")
        out[k] = v
    return out


def generic_source(
    path: str | Path,
    table_name: str,
    mapping: dict[str, str],
    defaults: dict[str, str] | None = None,
    ts_unit: str | None = None,
    ts_format: str | None = None,
    sep: str | None = None,
    name: str | None = None,
) -> Source:
    """A :class:`Source` reading ``path`` into ``table_name``.

    ``mapping`` is canonical column -> source column; ``defaults`` gives constants for columns
    the file lacks (``event_type=view``); time columns are parsed as Unix ``ts_unit`` (s|ms),
    with ``ts_format`` (strptime), or by DuckDB's ISO parser.
    """
    path = Path(path)
    tbl = table(table_name)
    defaults = defaults or {}
    unknown = (set(mapping) | set(defaults)) - set(tbl.columns)
    if unknown:
        raise ValidationError(f"table {tbl.name!r} has no column(s) {sorted(unknown)}; its columns are {tbl.columns}")
    if ts_unit is not None and ts_unit not in TIME_UNITS:
        raise ValidationError(f"--ts-unit must be one of {sorted(TIME_UNITS)}, got {ts_unit!r}")
    parse = TIME_UNITS.get(ts_unit) if ts_unit else ts_format
    columns: dict[str, Col] = {}
    for canon, source in mapping.items():
        is_time = tbl.schema.field(canon).type == TS
        columns[canon] = col(source, parse=parse if is_time else None)
    for canon, value in defaults.items():
        columns.setdefault(canon, const(value))
    if path.suffix.lower() in (".parquet", ".pq"):
        reader = read_parquet(path)
    else:
        reader = read_csv(path, sep=sep)
    return Source(
        name=name or f"generic:{path.name}",
        path=path,
        reader=reader,
        mapping=Mapping(tbl.name, columns),
        loader="generic",
    )
