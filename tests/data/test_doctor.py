"""`shopml doctor`: what a workspace can run and, in words, what it lacks."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from shopml.core.capability import AnyOf, Capability, Requirement
from shopml.data import Workspace
from shopml.data.doctor import check, check_requirement, doctor

CHURN = Requirement(
    "orders", ("user_id", "ts"), min_rows=50, min_days=90, where="status = 'completed'",
    why="orders with user ids",
)


def _orders(days: int, n: int = 100, users: bool = True) -> pd.DataFrame:
    ts = pd.Timestamp("2024-01-01", tz="UTC") + pd.to_timedelta(
        [i * days / (n - 1) for i in range(n)], unit="D"
    )
    return pd.DataFrame({
        "order_id": [f"o{i}" for i in range(n)],
        "line": [1] * n,
        "user_id": [f"u{i % 7}" if users else None for i in range(n)],
        "ts": ts,
        "item_id": [f"i{i % 5}" for i in range(n)],
        "quantity": [1.0] * n,
        "status": ["completed"] * (n - 10) + ["cancelled"] * 10,
    })


def test_requirement_counts_rows_and_days_after_the_filter():
    with Workspace() as ws:
        ws.append("orders", _orders(days=30))
        c = check_requirement(ws, CHURN)
        assert not c.ok and c.rows == 90  # the 10 cancelled lines do not count
        assert 26 < c.days < 27.5  # the completed ones span 0..~26.7 of the 30 days
        assert c.sentence() == (
            "orders with user ids (orders with user_id, ts filled in, where status = 'completed'): "
            "at least 50 rows over at least 90 days; you have 90 rows over 27 days"
        )
        ws.append("orders", _orders(days=200).assign(order_id=lambda f: "p" + f.order_id))
        assert check_requirement(ws, CHURN).ok


def test_missing_user_ids_and_rows():
    with Workspace() as ws:
        ws.append("orders", _orders(days=200, users=False))
        c = check_requirement(ws, CHURN)
        assert (c.ok, c.rows, c.days) == (False, 0, None)
        assert c.have == "you have 0 rows"


def test_any_of_needs_one_option_and_lists_all_when_none():
    need = AnyOf((
        Requirement("events", ("user_id", "item_id"), min_rows=10, why="interactions"),
        Requirement("orders", ("user_id", "item_id"), min_rows=10, why="order lines"),
    ))
    with Workspace() as ws:
        ok, missing, checks = check(ws, [need])
        assert not ok and len(checks) == 2
        assert missing == [
            "needs one of: interactions (events with user_id, item_id filled in): at least 10 "
            "rows; you have 0 rows; or order lines (orders with user_id, item_id filled in): at "
            "least 10 rows; you have 0 rows"
        ]
        ws.append("orders", _orders(days=5))
        assert check(ws, [need])[0]


def test_dates_span_days_and_bad_specs_are_reported_not_raised():
    with Workspace() as ws:
        ws.append("sales", pd.DataFrame({
            "item_id": ["a", "a", "b"],
            "date": pd.to_datetime(["2024-01-01", "2024-03-01", "2024-02-01"]).date,
            "quantity": [1.0, 2.0, 3.0],
        }))
        c = check_requirement(ws, Requirement("sales", ("quantity",), min_rows=3, min_days=60,
                                              time_column="date"))
        assert c.ok and c.days == 60
        bad = [
            Requirement("nope"),
            Requirement("orders", ("colour",)),
            Requirement("orders", where="no_such_column = 1"),
            Requirement("inventory", min_days=10),  # no ts column
        ]
        results = [check_requirement(ws, r) for r in bad]
        assert not any(r.ok for r in results)
        assert ["nope" in results[0].problem, "colour" in results[1].problem,
                "filter" in results[2].problem, "time column" in results[3].problem] == [True] * 4


def _spec(name: str, *requires) -> Capability:
    return Capability(name=name, summary=f"{name} things", models="shopml.fake:MODELS",
                      requires=tuple(requires))


def test_doctor_over_fake_specs():
    specs = {
        "churn": _spec("churn", CHURN),
        "search": _spec("search", Requirement("items", ("item_id", "title"), min_rows=2,
                                              why="a catalogue with titles")),
        "anything": _spec("anything"),
    }
    with Workspace() as ws:
        ws.append("orders", _orders(days=30))
        findings = doctor(ws, specs)
        assert [(f.name, f.ok) for f in findings] == [("churn", False), ("search", False),
                                                      ("anything", True)]
        assert "over at least 90 days; you have 90 rows over 27 days" in findings[0].missing[0]
        body = findings[0].as_dict()
        assert body["checks"][0]["rows"] == 90 and body["ok"] is False
        json.dumps([f.as_dict() for f in findings])  # the overview sends them as JSON


def test_registered_specs_are_checkable():
    from shopml.capabilities import specs

    with Workspace() as ws:
        findings = doctor(ws, specs())
        assert findings and all(not f.error for f in findings)
        empty = [f for f in findings if f.checks]
        # an empty shop can run nothing that needs data
        assert empty and not any(f.ok for f in empty)


def test_cli(tmp_path):
    from shopml.cli import app

    path = tmp_path / "w.duckdb"
    with Workspace(path) as ws:
        ws.append("orders", _orders(days=30))
    runner = CliRunner()
    r = runner.invoke(app, ["doctor", "-w", str(path), "--json"])
    assert r.exit_code == 0, r.output
    body = json.loads(r.output)
    names = [c["name"] for c in body["capabilities"]]
    assert "recommend" in names and "search" in names
    by = {c["name"]: c for c in body["capabilities"]}
    assert by["search"]["ok"] is False and "catalogue" in by["search"]["missing"][0]
    r = runner.invoke(app, ["doctor", "-w", str(path)])
    assert r.exit_code == 0 and "search" in r.output
    assert runner.invoke(app, ["doctor", "-w", str(path), "--strict"]).exit_code == 1
    assert runner.invoke(app, ["doctor", "-w", str(tmp_path / "none.duckdb")]).exit_code == 2


@pytest.mark.parametrize("bad", [object(), "orders"])
def test_requirements_of_the_wrong_type_fail_clearly(bad):
    from shopml.core.errors import ShopMLError

    with Workspace() as ws, pytest.raises(ShopMLError, match="Requirement or AnyOf"):
        check(ws, [bad])
