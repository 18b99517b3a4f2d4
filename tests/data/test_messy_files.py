"""Messy shop exports load line by line: every line is accepted or quarantined with its number.

The files are generated (hypothesis) from a list of line kinds whose fate is known, so each
test checks the exact accounting (accepted + quarantined = lines read), which lines were
quarantined and why, and that every good line arrived.
"""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopml.core.errors import IngestError, ValidationError
from shopml.data import Workspace
from shopml.data.loaders.generic import file_format, generic_source, sniff_delimiter

EVENTS_MAP = {
    "user_id": "user",
    "item_id": "item",
    "ts": "ts",
    "event_type": "type",
    "price": "price",
}
HEADER = "user,item,ts,type,price"

# line kind -> (physical lines as bytes, expected reason or None for a good record)
KINDS = {
    "good": (lambda i: [f"u{i},i{i},2024-01-01 10:00:00,view,1.5".encode()], None),
    "quoted": (lambda i: [f'u{i},"item, with ""quotes""",2024-01-01,view,2'.encode()], None),
    "multiline": (lambda i: [f'u{i},"first'.encode(), b'second line",2024-01-02,view,3'], None),
    "unbalanced": (lambda i: [f'u{i},"i{i},2024-01-01,view,1'.encode()], "unbalanced quote"),
    "too_many": (lambda i: [f"u{i},i{i},2024-01-01,view,1,extra".encode()], "too many fields"),
    "too_few": (lambda i: [f"u{i},i{i},2024-01-01".encode()], "too few fields"),
    "bad_byte": (lambda i: [f"u{i},i".encode() + b"\xff\xfe" + b",2024-01-01,view,1"], "bad bytes"),
    "bad_value": (lambda i: [f"u{i},i{i},yesterday,view,1".encode()], "unparsable ts"),
}
TRUNCATED = {  # a last line cut short, without its line end
    "cut_fields": ([b"u9,i9,2024-01-0"], "too few fields"),
    "cut_quote": ([b'u9,"half an it'], "unbalanced quote"),
}


def build(
    kinds: list[str], truncated: str | None, crlf: bool
) -> tuple[bytes, list[tuple[int, str | None]]]:
    """The file's bytes and, per record, (first line number, expected reason)."""
    lines, expected = [HEADER.encode()], []
    for i, kind in enumerate(kinds):
        make, reason = KINDS[kind]
        expected.append((len(lines) + 1, reason))
        lines += make(i)
    end = b"\r\n" if crlf else b"\n"
    data = end.join(lines) + end
    if truncated is not None:
        cut, reason = TRUNCATED[truncated]
        expected.append((len(lines) + 1, reason))
        data += end.join(cut)
    return data, expected


def write_as(tmp: Path, data: bytes, container: str, name: str = "export.csv") -> Path:
    if container == "gzip":
        path = tmp / (name + ".gz")
        path.write_bytes(gzip.compress(data))
    elif container == "zip":
        path = tmp / (name + ".zip")
        with zipfile.ZipFile(path, "w") as zf:
            zf.writestr(name, data)
    else:
        path = tmp / name
        path.write_bytes(data)
    return path


def check_accounting(ws: Workspace, report, expected: list[tuple[int, str | None]]) -> None:
    bad = {line: reason for line, reason in expected if reason is not None}
    assert report.rows_read == len(expected)
    assert report.rows_accepted + report.rows_quarantined == report.rows_read
    assert report.rows_accepted == len(expected) - len(bad)
    assert ws.count("events") == report.rows_accepted
    q = ws.sql("SELECT row_number, reason FROM quarantine ORDER BY row_number")
    assert q["row_number"].tolist() == sorted(bad)
    for line, reason in zip(q["row_number"], q["reason"], strict=True):
        assert bad[line] in reason, (line, reason)


kinds = st.lists(st.sampled_from(sorted(KINDS)), min_size=0, max_size=30)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    kinds=kinds,
    truncated=st.sampled_from([None, *sorted(TRUNCATED)]),
    crlf=st.booleans(),
    container=st.sampled_from(["plain", "gzip", "zip"]),
)
def test_every_line_is_accepted_or_quarantined_with_its_number(
    tmp_path_factory, kinds, truncated, crlf, container
):
    data, expected = build(kinds, truncated, crlf)
    path = write_as(tmp_path_factory.mktemp("messy"), data, container)
    with Workspace() as ws:
        report = ws.ingest(generic_source(path, "events", EVENTS_MAP))[0]
        check_accounting(ws, report, expected)
        if "multiline" in kinds:
            # the line break inside the quoted value is kept as the file has it
            n = ws.sql(
                "SELECT count(*) AS n FROM events WHERE item_id IN ('first\nsecond line', "
                "'first\r\nsecond line')"
            )["n"][0]
            assert n == kinds.count("multiline")


def test_one_stray_quote_no_longer_refuses_the_file(tmp_path):
    """Issue 15: one unbalanced quote used to fail the whole file ("Error when sniffing file")."""
    rows = [f"u{i},i{i},2024-01-0{1 + i % 9},view,{i}" for i in range(50)]
    rows[20] = 'u20,"i20,2024-01-01,view,20'
    for sep in (",", ";", "\t"):
        text = "\n".join([HEADER] + rows).replace(",", sep) + "\n"
        path = tmp_path / f"f{ord(sep)}.csv"
        path.write_text(text)
        with Workspace() as ws:
            r = ws.ingest(generic_source(path, "events", EVENTS_MAP))[0]  # delimiter found by us
            assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (50, 49, 1)
            q = ws.sql("SELECT row_number, raw, reason FROM quarantine")
            assert q.row_number.tolist() == [22] and "u20" in q.raw[0]
            assert q.reason[0].startswith("unreadable line: unbalanced quote")


def test_delimiter_sniffing():
    assert sniff_delimiter("a;b;c\n1;2;3") == ";"
    assert sniff_delimiter("a\tb\n") == "\t"
    assert sniff_delimiter("a,b;c,d\n") == ","
    assert sniff_delimiter("single\n") == ","


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    lines=st.lists(
        st.sampled_from(["good", "broken", "array", "bad_byte", "blank", "bad_value"]), max_size=25
    ),
    gz=st.booleans(),
)
def test_json_lines_with_malformed_lines(tmp_path_factory, lines, gz):
    out, expected = [], []
    for i, kind in enumerate(lines):
        n = len(out) + 1
        good = {
            "user": f"u{i}",
            "item": f"i{i}",
            "ts": "2024-01-01T10:00:00",
            "type": "view",
            "price": i,
        }
        if kind == "good":
            out.append(json.dumps(good).encode())
            expected.append((n, None))
        elif kind == "broken":
            out.append(json.dumps(good).encode()[:-5])
            expected.append((n, "malformed JSON line"))
        elif kind == "array":
            out.append(b"[1, 2]")
            expected.append((n, "malformed JSON line"))
        elif kind == "bad_byte":
            out.append(b'{"user": "u\xff"}')
            expected.append((n, "bad bytes"))
        elif kind == "bad_value":
            out.append(json.dumps({**good, "price": "cheap"}).encode())
            expected.append((n, "unparsable price"))
        else:
            out.append(b"")  # blank lines are no records
    data = (
        b"\n".join(
            [
                json.dumps(
                    {"user": "u", "item": "i", "ts": "2024-01-01", "type": "view", "price": 1}
                ).encode(),
                *out,
            ]
        )
        + b"\n"
    )
    expected = [(n + 1, r) for n, r in expected]
    expected.insert(0, (1, None))
    path = tmp_path_factory.mktemp("jsonl") / ("events.jsonl" + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data) if gz else data)
    with Workspace() as ws:
        report = ws.ingest(generic_source(path, "events", EVENTS_MAP))[0]
        check_accounting(ws, report, expected)


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "InvoiceNo": ["536365", "536365", "536366", "536367"],
            "StockCode": ["85123A", "71053", "22633", "84879"],
            "Quantity": [6, 6, 6, -2],
            "InvoiceDate": pd.to_datetime(
                ["2010-12-01 08:26", "2010-12-01 08:26", "2010-12-01 08:28", "2010-12-01 08:34"]
            ),
            "UnitPrice": [2.55, 3.39, 1.85, 1.69],
            "CustomerID": [17850.0, 17850.0, None, 13047.0],
        }
    )


ORDERS_MAP = {
    "order_id": "InvoiceNo",
    "item_id": "StockCode",
    "quantity": "Quantity",
    "ts": "InvoiceDate",
    "unit_price": "UnitPrice",
    "user_id": "CustomerID",
}


def test_excel_parquet_and_zipped_parquet(tmp_path):
    frame = _frame()
    xlsx = tmp_path / "Online Retail.xlsx"
    frame.to_excel(xlsx, index=False)
    pq = tmp_path / "orders.parquet"
    frame.to_parquet(pq, index=False)
    zpq = tmp_path / "orders.parquet.zip"
    with zipfile.ZipFile(zpq, "w") as zf:
        zf.write(pq, "orders.parquet")
    for path, first_row in ((xlsx, 2), (pq, 1), (zpq, 1)):
        with Workspace() as ws:
            r = ws.ingest(
                generic_source(path, "orders", ORDERS_MAP, defaults={"status": "completed"})
            )[0]
            # the returned line (-2) is quarantined; the others arrive with their values
            assert (r.rows_read, r.rows_accepted, r.rows_quarantined) == (4, 3, 1), path
            q = ws.sql("SELECT row_number, reason FROM quarantine")
            assert q.reason.tolist() == ["negative quantity"]
            assert q.row_number.tolist() == [first_row + 3]  # Excel rows count the header
            got = ws.sql(
                "SELECT order_id, item_id, quantity, unit_price, ts FROM orders ORDER BY item_id"
            )
            assert got.item_id.tolist() == ["22633", "71053", "85123A"]
            assert got.unit_price.tolist() == [1.85, 3.39, 2.55]
            assert str(got.ts[0]).startswith("2010-12-01 08:28")


def test_formats_by_name_and_clear_errors(tmp_path):
    assert file_format(Path("a.csv.gz")) == ("text", "gzip")
    assert file_format(Path("a.tsv")) == ("text", None)
    assert file_format(Path("a.jsonl.gz")) == ("jsonl", "gzip")
    assert file_format(Path("a.parquet")) == ("parquet", None)
    assert file_format(Path("a.xlsx")) == ("excel", None)
    assert file_format(Path("a.zip")) == ("zip", "zip")
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as zf:
        zf.writestr("a.csv", "x\n1\n")
        zf.writestr("b.csv", "x\n2\n")
    with pytest.raises(IngestError, match="exactly one data file"):
        generic_source(two, "events", EVENTS_MAP)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a workbook")
    with Workspace() as ws, pytest.raises(IngestError, match="broken.xlsx"):
        ws.ingest(generic_source(broken, "orders", ORDERS_MAP, defaults={"status": "completed"}))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with Workspace() as ws, pytest.raises(IngestError, match="empty.csv"):
        ws.ingest(generic_source(empty, "events", EVENTS_MAP))


# ------------------------------------------------------------- dates, formats and attributes
WALMART = """Store,Date,Weekly_Sales,Holiday_Flag,Temperature,Fuel_Price,CPI,Unemployment
1,05-02-2010,1643690.9,0,42.31,2.572,211.0963582,8.106
1,12-02-2010,1641957.44,1,38.51,2.548,211.2421698,8.106
1,19-02-2010,1611968.17,0,39.93,2.514,211.2891429,8.106
2,05-02-2010,2136989.46,0,40.19,2.572,210.7526053,8.324
2,31-02-2010,2137809.5,0,38.49,2.548,210.8979935,8.324
"""


def test_non_iso_sales_dates_and_extra_columns_into_attributes(tmp_path):
    """Issue 12: --ts-format applies to date columns; extra columns go to attributes."""
    path = tmp_path / "Walmart.csv"
    path.write_text(WALMART)
    mapping = {
        "item_id": "Store",
        "date": "Date",
        "quantity": "Weekly_Sales",
        "attributes.holiday": "Holiday_Flag",
        "attributes.temperature": "Temperature",
    }
    with Workspace() as ws:
        r = ws.ingest(
            generic_source(
                path, "sales", mapping, ts_format="%d-%m-%Y", attributes=["Fuel_Price", "CPI"]
            )
        )[0]
        assert (r.rows_read, r.rows_accepted) == (5, 4)
        assert list(r.reasons) == ["unparsable date: 31-02-2010"]  # no 31 February
        got = ws.sql("SELECT item_id, date, quantity, attributes FROM sales ORDER BY item_id, date")
        assert [str(d)[:10] for d in got.date] == [
            "2010-02-05",
            "2010-02-12",
            "2010-02-19",
            "2010-02-05",
        ]
        attrs = [json.loads(a) for a in got.attributes]
        assert attrs[1] == {
            "holiday": 1.0,
            "temperature": 38.51,
            "Fuel_Price": 2.548,
            "CPI": 211.2421698,
        }
        assert ws.sql("SELECT sum((attributes->>'holiday')::DOUBLE) AS h FROM sales")["h"][0] == 1.0


def test_attribute_mapping_errors(tmp_path):
    path = tmp_path / "Walmart.csv"
    path.write_text(WALMART)
    with pytest.raises(ValidationError, match="no attributes column"):
        generic_source(path, "inventory", {"item_id": "Store", "attributes.x": "CPI"})
    with pytest.raises(ValidationError, match="not both"):
        generic_source(
            path, "sales", {"item_id": "Store", "attributes": "CPI", "attributes.x": "CPI"}
        )
    with pytest.raises(ValidationError, match="attributes.KEY=COLUMN"):
        generic_source(path, "sales", {"item_id": "Store", "holiday": "Holiday_Flag"})
    with Workspace() as ws, pytest.raises(IngestError, match="Nope"):
        ws.ingest(
            generic_source(
                path,
                "sales",
                {"item_id": "Store", "date": "Date", "quantity": "CPI", "attributes.x": "Nope"},
                ts_format="%d-%m-%Y",
            )
        )


def test_text_values_stay_text_in_attributes(tmp_path):
    path = tmp_path / "prices.csv"
    path.write_text("sku,day,price,promo,rival\na,2024-01-01,3.5,BOGO,\nb,2024-01-01,2.0,,4.1\n")
    with Workspace() as ws:
        ws.ingest(
            generic_source(
                path,
                "prices",
                {"item_id": "sku", "date": "day", "price": "price"},
                attributes=["promo", "rival"],
            )
        )
        attrs = [
            json.loads(a)
            for a in ws.sql("SELECT attributes FROM prices ORDER BY item_id").attributes
        ]
        assert attrs == [{"promo": "BOGO", "rival": None}, {"promo": None, "rival": 4.1}]


def test_cli_ingests_the_walmart_file_of_issue_12(tmp_path):
    from typer.testing import CliRunner

    from shopml.cli import app

    path = tmp_path / "Walmart.csv"
    path.write_text(WALMART)
    ws = tmp_path / "w.duckdb"
    args = [
        "ingest",
        "generic",
        str(path),
        "-w",
        str(ws),
        "--table",
        "sales",
        "--map",
        "item_id=Store,date=Date,quantity=Weekly_Sales,attributes.holiday=Holiday_Flag",
        "--attributes",
        "Temperature",
        "--ts-format",
        "%d-%m-%Y",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    with Workspace(ws, read_only=True) as w:
        assert w.count("sales") == 4 and w.count("quarantine") == 1
        attrs = json.loads(
            w.sql("SELECT attributes FROM sales ORDER BY date LIMIT 1").attributes[0]
        )
        assert attrs == {"holiday": 0.0, "Temperature": 42.31}
