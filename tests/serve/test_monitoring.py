"""Monitoring from the specs: a fraud model trained before the newest orders arrived reports
drift, realised AUC and its decision cost against flagging nothing, in /v1/monitoring, in the
Prometheus gauges and on the dashboard page."""

from __future__ import annotations

import shutil

import pytest

from shopml.data import Workspace
from shopml.predict.tasks import train_task
from tests.serve.conftest import make_client


@pytest.fixture(scope="module")
def later_shop(task_template, tmp_path_factory):
    ws_src, reg_src = task_template
    root = tmp_path_factory.mktemp("monitor")
    ws, reg, old = root / "shop.duckdb", root / "registry", root / "old.duckdb"
    shutil.copy(ws_src, ws)
    shutil.copytree(reg_src, reg)
    shutil.copy(ws_src, old)
    with Workspace(old) as w:  # the shop as it was when the model was trained
        cut = w.sql("SELECT quantile_disc(ts, 0.75) AS t FROM orders")["t"].iloc[0]
        w.sql("DELETE FROM orders WHERE ts > ?", [cut])
    train_task(old, reg, "fraud", "logistic", options={"validation_fraction": 0.5})
    return ws, reg


def test_monitoring_reports_drift_and_realised_cost(later_shop, auth):
    with make_client(*later_shop) as c:
        report = {(e["capability"], e["name"]): e for e in c.get("/v1/monitoring").json()}
        fraud = report[("predict", "fraud")]
        assert fraud["measured"] and fraud["rows"] > 0
        assert set(fraud["input_drift"]) >= {"purchase_value", "hour", "source"}
        assert fraud["score_drift"] is not None and fraud["score_level"] != "unknown"
        realised = fraud["realised"]
        assert realised["rows"] > 0
        if "auc" in realised:  # enough outcomes of both classes arrived after training
            assert 0 <= realised["auc"] <= 1
            assert realised["cost_do_nothing"] > 0 and realised["acted"] >= 0
        kinds = {d["kind"] for d in fraud["declared"]}
        assert kinds == {"input_drift", "score_drift", "quality", "cost"}
        # a model without a training snapshot is listed, not measured
        assert not report[("recommend", "ease")]["measured"]
        metrics = c.get("/metrics").text
        assert 'shopml_input_drift_psi{capability="predict",feature="purchase_value",name="fraud"' in metrics
        assert 'shopml_score_drift_psi{capability="predict",name="fraud"' in metrics
        page = c.get("/dashboard/monitoring")
        assert page.status_code == 200 and "/v1/monitoring" in page.text
