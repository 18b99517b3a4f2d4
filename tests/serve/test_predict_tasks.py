"""POST /v1/predict/{task}: registered churn and fraud models, by workspace id or feature rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shopml.data import Workspace
from shopml.predict.tasks import fraud_features, fraud_orders, load_task, score_task, train_task
from shopml.registry import Registry
from tests.serve.conftest import make_client


@pytest.fixture(scope="module")
def task_shop(task_template, tmp_path_factory):
    """The shop with churn (7-day horizon: the shop spans 30 days) and fraud models registered."""
    import shutil

    ws_src, reg_src = task_template
    root = tmp_path_factory.mktemp("tasks")
    ws, reg = root / "shop.duckdb", root / "registry"
    shutil.copy(ws_src, ws)
    shutil.copytree(reg_src, reg)
    train_task(ws, reg, "churn", "logistic", options={"horizon": 7, "step": 7, "n_train": 2})
    train_task(ws, reg, "fraud", "logistic", options={"validation_fraction": 0.4})
    return ws, reg


@pytest.fixture(scope="module")
def task_client(task_shop):
    with make_client(*task_shop) as c:
        yield c


def test_scores_customers_by_id(task_client, task_shop, auth):
    ws, reg = task_shop
    with Workspace(ws, read_only=True) as w:
        users = w.sql("SELECT DISTINCT user_id FROM orders WHERE status = 'completed' ORDER BY 1 LIMIT 3")["user_id"].tolist()
    r = task_client.post("/v1/predict/churn", json={"ids": users}, headers=auth)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["task"] == "churn" and body["entity"] == "user_id" and body["model"]["version"] == "v0001"
    assert [p["id"] for p in body["predictions"]] == users
    assert all(0 <= p["probability"] <= 1 and p["decision"] is None for p in body["predictions"])
    # a cost matrix in the request turns scores into decisions at the Bayes threshold
    costs = {"tp": -10.0, "fp": 1.0, "fn": 0.0, "tn": 0.0}  # acting wins 10 on a buyer, costs 1 otherwise
    r = task_client.post("/v1/predict/churn", json={"ids": users, "costs": costs}, headers=auth)
    for p in r.json()["predictions"]:
        assert p["threshold"] == pytest.approx(1 / 11) and p["decision"] == int(p["probability"] >= 1 / 11)


def test_fraud_rows_match_the_library_and_decide(task_client, task_shop, auth):
    ws, reg = task_shop
    with Workspace(ws, read_only=True) as w:
        orders = fraud_orders(w, labelled_only=False)
    X = fraud_features(orders).iloc[:5]
    loaded = load_task(Registry(reg), Registry(reg).latest("predict", "fraud"))
    expected = score_task(loaded, X)
    rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()} for rec in X.to_dict(orient="records")]
    r = task_client.post("/v1/predict/fraud", json={"rows": rows}, headers=auth)
    assert r.status_code == 200, r.text
    got = pd.DataFrame(r.json()["predictions"])
    np.testing.assert_allclose(got["probability"], expected["probability"], rtol=1e-6)
    assert got["decision"].tolist() == expected["decision"].tolist()
    # by order id: the same numbers, computed at load from the workspace
    r = task_client.post("/v1/predict/fraud", json={"ids": orders["order_id"].iloc[:5].tolist()}, headers=auth)
    np.testing.assert_allclose([p["probability"] for p in r.json()["predictions"]], expected["probability"], rtol=1e-6)


def test_bad_requests_are_named(task_client, auth):
    r = task_client.post("/v1/predict/churn", json={"ids": ["nobody-here"]}, headers=auth)
    assert r.status_code == 404 and "nobody-here" in r.text
    r = task_client.post("/v1/predict/churn", json={}, headers=auth)
    assert r.status_code == 422 and "exactly one of ids or rows" in r.text
    r = task_client.post("/v1/predict/fraud", json={"rows": [{"purchase_value": 10.0}]}, headers=auth)
    assert r.status_code == 422 and "lacks feature column" in r.text
    r = task_client.post("/v1/predict/nonsense", json={"ids": ["x"]}, headers=auth)
    assert r.status_code == 404 and "churn" in r.text
    r = task_client.post("/v1/predict/churn", json={"ids": ["x"], "costs": {"tp": 5, "fp": 1, "fn": 1, "tn": 0}}, headers=auth)
    assert r.status_code in (404, 422)


def test_no_model_registered_is_503(client, auth):
    r = client.post("/v1/predict/fraud", json={"ids": ["o1"]}, headers=auth)
    assert r.status_code == 503 and "train predict --task fraud" in r.text


def test_reload_serves_the_new_version(task_template, tmp_path, auth):
    import shutil

    ws, reg = tmp_path / "shop.duckdb", tmp_path / "registry"
    shutil.copy(task_template[0], ws)
    shutil.copytree(task_template[1], reg)
    train_task(ws, reg, "fraud", "logistic", options={"validation_fraction": 0.4})
    with Workspace(ws, read_only=True) as w:
        first = fraud_orders(w, labelled_only=False)["order_id"].iloc[:1].tolist()
    with make_client(ws, reg) as c:
        assert c.post("/v1/predict/fraud", json={"ids": first}, headers=auth).json()["model"]["version"] == "v0001"
        train_task(ws, reg, "fraud", "logistic", params={"C": 0.1}, options={"validation_fraction": 0.4})
        assert c.post("/v1/admin/reload", headers=auth).status_code == 200
        assert c.post("/v1/predict/fraud", json={"ids": first}, headers=auth).json()["model"]["version"] == "v0002"


def test_ctr_and_conversion_are_served_from_the_task_table(shop, auth):
    from shopml.predict.tasks import scoring_data, task_options

    ws, reg = shop
    train_task(ws, reg, "ctr", "logistic")
    train_task(ws, reg, "conversion", "logistic", options={"n": 2})
    with Workspace(ws, read_only=True) as w:
        imp_ids, X = scoring_data("ctr", w, task_options("ctr"))
        sess_ids, _ = scoring_data("conversion", w, task_options("conversion", {"n": 2}))
    loaded = load_task(Registry(reg), Registry(reg).latest("predict", "ctr"))
    expected = score_task(loaded, X.iloc[:3])
    with make_client(ws, reg) as c:
        r = c.post("/v1/predict/ctr", json={"ids": list(imp_ids[:3])}, headers=auth)
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["entity"] == "impression_id" and [p["id"] for p in body["predictions"]] == list(imp_ids[:3])
        np.testing.assert_allclose([p["probability"] for p in body["predictions"]], expected["probability"], rtol=1e-6)
        # the default decision: show when P(click) >= impression_cost / click_value
        assert all(p["threshold"] == pytest.approx(0.01) and p["decision"] == int(p["probability"] >= 0.01) for p in body["predictions"])
        rows = [{k: (None if isinstance(v, float) and np.isnan(v) else v) for k, v in rec.items()} for rec in X.iloc[:3].to_dict(orient="records")]
        r = c.post("/v1/predict/ctr", json={"rows": rows}, headers=auth)
        assert r.status_code == 200, r.text
        np.testing.assert_allclose([p["probability"] for p in r.json()["predictions"]], expected["probability"], rtol=1e-6)
        r = c.post("/v1/predict/conversion", json={"ids": list(sess_ids[:2])}, headers=auth)
        assert r.status_code == 200, r.text
        assert r.json()["entity"] == "session_id"
        assert all(p["threshold"] == pytest.approx(0.1) for p in r.json()["predictions"])
