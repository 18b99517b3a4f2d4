"""The shopml command end to end (Typer's runner, real files)."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from shopml.cli import app

runner = CliRunner()


def test_help_everywhere():
    for cmd in ([], ["ingest"], ["info"], ["datasets"], ["bench"], ["simulate"], ["demo"]):
        r = runner.invoke(app, [*cmd, "--help"])
        assert r.exit_code == 0, r.output


def test_datasets_lists_loaders_found_in_data_dir():
    r = runner.invoke(app, ["datasets"])
    assert r.exit_code == 0
    assert "online-retail" in r.output and "generic" in r.output


def test_generic_tsv_click_log_then_info_json(tmp_path):
    log = tmp_path / "clicks.tsv"
    log.write_text("SessionId\tItemId\tTime\n1\ta\t1700000000\n1\tb\t1700000060\n2\tc\tyesterday\n")
    ws = tmp_path / "w.duckdb"
    args = ["ingest", "generic", str(log), "-w", str(ws), "--table", "events", "--sep", "\\t",
            "--map", "session_id=SessionId,item_id=ItemId,ts=Time", "--ts-unit", "s",
            "--default", "event_type=click"]
    r = runner.invoke(app, args)
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["info", "-w", str(ws), "--json"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.output)
    assert info["tables"]["events"]["rows"] == 2
    assert info["quarantine"]["by_reason"] == {"events": {"unparsable ts": 1}}
    assert info["ingests"][0]["rows_read"] == 3
    again = runner.invoke(app, args)
    assert "already ingested" in again.output


def test_clear_errors_exit_2(tmp_path):
    r = runner.invoke(app, ["ingest", "no-such-dataset", "-w", str(tmp_path / "w.duckdb")])
    assert r.exit_code == 2 and "unknown dataset" in r.output
    r = runner.invoke(app, ["ingest", "generic", str(tmp_path / "nope.csv"), "-w", str(tmp_path / "w.duckdb"),
                            "--table", "events", "--map", "ts=a", "--default", "event_type=view,user_id=u"])
    assert r.exit_code == 2 and "no such file" in r.output
    r = runner.invoke(app, ["info", "-w", str(tmp_path / "missing.duckdb")])
    assert r.exit_code == 2
    r = runner.invoke(app, ["bench", "recommend"])
    assert r.exit_code == 2 and "exactly one" in r.output
