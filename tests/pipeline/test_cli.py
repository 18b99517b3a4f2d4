"""`shopml run`, `shopml report` and `shopml demo` through Typer's runner."""

from __future__ import annotations

from typer.testing import CliRunner

from shopml.cli import app
from tests.pipeline.conftest import tiny_text

runner = CliRunner()


def test_run_check_reports_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(tiny_text(tmp_path).replace("test_days: 14", "test_days: -1"))
    r = runner.invoke(app, ["run", str(bad), "--check"])
    assert r.exit_code == 2
    assert f"{bad}:9: train.recommend.test_days: Input should be greater than 0" in r.output
    good = tmp_path / "good.yaml"
    good.write_text(tiny_text(tmp_path))
    r = runner.invoke(app, ["run", str(good), "--check"])
    assert r.exit_code == 0 and "valid (recommend, clv, churn, search)" in r.output


def test_run_prints_summary_and_report_writes_html(tiny_run, tmp_path):
    root, _ = tiny_run
    path = root / "tiny.yaml"
    path.write_text(tiny_text(root))
    r = runner.invoke(app, ["run", str(path)])
    assert r.exit_code == 0, r.output
    assert "cached" in r.output and "report:" in r.output
    out = tmp_path / "r.html"
    r = runner.invoke(app, ["report", "--run", "tiny/v0001", "-r", str(root / "registry"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "tiny/v0001" in out.read_text()[-400_000:]
    r = runner.invoke(app, ["report", "--run", "nope", "-r", str(root / "registry")])
    assert r.exit_code == 2 and "nope" in r.output


def test_demo_help_names_the_dataset_option():
    r = runner.invoke(app, ["demo", "--help"])
    assert r.exit_code == 0 and "--dataset" in r.output and "--fresh" in r.output


def test_demo_builds_its_pipeline_from_the_options(tmp_path, monkeypatch):
    import shopml.pipeline
    from tests.evaluation.report_record import make_record

    seen = {}

    def fake_run(cfg, **kw):
        seen["cfg"], seen["kw"] = cfg, kw
        return {**make_record(with_optional=False), "run_id": "demo/v0001", "report": str(tmp_path / "r.html")}

    monkeypatch.setattr(shopml.pipeline, "run_pipeline", fake_run)
    monkeypatch.chdir(tmp_path)
    r = runner.invoke(app, ["demo", "--quick", "--users", "300", "--fresh"])
    assert r.exit_code == 0, r.output
    cfg = seen["cfg"]
    assert cfg.data.simulate.users == 300 and cfg.data.simulate.items == 200
    assert [m.name for m in cfg.step_configs()["recommend"].models] == ["itemknn", "ease", "als"]
    assert cfg.step_configs()["search"].encoder is None and seen["kw"]["use_cache"] is False
    assert "shopml serve -w workspaces/demo.duckdb -r artifacts" in r.output
    # the simulator's truth lies beside the workspace, for the oracle columns
    from shopml.data.synth import load_truth

    truth = load_truth(tmp_path / "workspaces" / "demo.truth.npz")
    assert truth.config.n_users == 300 and truth.config.session_rate == 0.05
    r = runner.invoke(app, ["demo", "--dataset", "online-retail"])
    assert r.exit_code == 0, r.output
    cfg = seen["cfg"]
    assert cfg.data.dataset == "online-retail" and cfg.name == "demo-online-retail"
    assert str(cfg.workspace) == "workspaces/demo-online-retail.duckdb" and str(cfg.report) == "reports/demo-online-retail.html"
    assert seen["kw"]["use_cache"] is True
    assert not (tmp_path / "workspaces" / "demo-online-retail.truth.npz").exists()
