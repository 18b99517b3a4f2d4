"""The HTML report: one self-contained file with the sections its run calls for."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation.report import render_report, summary_rows, write_report
from tests.evaluation.report_record import make_record


class _Parsed(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.external: list[str] = []
        self.scripts = 0
        self.rows: dict[str, int] = {}
        self._table: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if "id" in a:
            self.ids.append(a["id"])
        for key in ("src", "href"):
            if a.get(key, "").startswith(("http", "//")):
                self.external.append(a[key])
        if tag == "script":
            self.scripts += 1
        if tag == "table":
            self._table.append(" ".join(a.get("class", "").split()))
        if tag == "tr" and self._table:
            self.rows[self._table[-1]] = self.rows.get(self._table[-1], 0) + 1

    def handle_endtag(self, tag):
        if tag == "table" and self._table:
            self._table.pop()

    def handle_data(self, data):
        self.text.append(data)


def parse(html: str) -> _Parsed:
    p = _Parsed()
    p.feed(html)
    return p


def test_report_is_self_contained_with_every_section():
    html = render_report(make_record())
    p = parse(html)
    assert p.external == []  # nothing loaded from the network
    assert html.count("<script>") == 2  # plotly.js inlined once, then the figure calls
    for section in ("summary", "data", "quarantine", "recommend", "predict", "search", "forecast", "off-policy", "config"):
        assert section in p.ids, section
    # one div per figure: 1 bar chart per leaderboard + the steps' own figures
    assert sum(i.startswith("fig-") for i in p.ids) == 2 + 4 + 2 + 1
    assert p.rows["board leaderboard"] == (1 + 3) + (1 + 2) + (1 + 2)  # header + rows of each board
    text = " ".join(p.text)
    assert "Quarantine: 3 rows" in text and "unparsable ts" in text
    assert "<b>not bold</b>" in text and "<b>not bold</b>" not in html  # escaped, shown as text
    assert "0.2100 [0.1900, 0.2300]" in text.replace("  ", " ")


def test_optional_sections_only_when_produced():
    p = parse(render_report(make_record(with_optional=False)))
    assert "forecast" not in p.ids and "off-policy" not in p.ids and "pricing" not in p.ids
    assert "recommend" in p.ids


def test_summary_rows_pick_best_model_and_baseline():
    rows = {r["step"]: r for r in summary_rows(make_record())}
    assert rows["recommend"]["model"] == "ease" and rows["recommend"]["ci"] == [0.19, 0.23]
    assert rows["recommend"]["baseline"] == "popularity" and rows["recommend"]["registered"] == ["recommend/ease v0003"]
    assert rows["forecast"]["model"] == "deepar" and rows["forecast"]["higher_is_better"] is False
    assert rows["search"]["status"] == "skipped" and rows["search"]["reason"] == "no items to index"


def test_write_report_and_bad_input(tmp_path):
    path = write_report(make_record(), tmp_path / "r" / "report.html")
    assert path.read_text().startswith("<!DOCTYPE html>")
    with pytest.raises(ValidationError, match="run record"):
        render_report({"steps": []})
    bad = make_record()
    bad["steps"][0]["result"]["plots"] = [{"kind": "pie"}]
    with pytest.raises(ValidationError, match="pie"):
        render_report(bad)


def test_oracle_and_paired_difference_columns():
    record = make_record()
    step = next(s for s in record["steps"] if s["name"] == "recommend")
    primary = step["result"]["primary"]
    step["result"].setdefault("stats", {})["oracle"] = {
        "model": "oracle <true utilities>", "metrics": {primary: 0.4321}, "ci": {primary: [0.41, 0.45]}}
    step["result"]["stats"]["best_vs_baseline"] = {
        "model": "ease", "baseline": "popularity", "metric": primary, "diff": 0.0777, "ci": [0.05, 0.1]}
    rows = {r["step"]: r for r in summary_rows(record)}
    assert rows["recommend"]["oracle_value"] == 0.4321 and rows["recommend"]["oracle_ci"] == [0.41, 0.45]
    assert rows["recommend"]["diff"] == 0.0777 and rows["recommend"]["diff_ci"] == [0.05, 0.1]
    assert "oracle_value" not in rows["forecast"]  # no truth, no column value
    html = render_report(record)
    assert "oracle &lt;true utilities&gt;: 0.4321" in html  # escaped, never raw HTML
    assert "0.0777" in html and "oracle (simulator" in html
    # an oracle for another metric than the primary is not shown as if it were comparable
    step["result"]["stats"]["oracle"]["metrics"] = {"other": 1.0}
    assert "oracle_value" not in {r["step"]: r for r in summary_rows(record)}["recommend"]
