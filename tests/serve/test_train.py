"""recommend/train.py: interactions from a workspace, parameters from text, registration.

(Kept beside the service tests that need it; it mirrors src/shopml/recommend/train.py.)
"""

from __future__ import annotations

import pytest

from shopml.core.errors import DataError, ValidationError
from shopml.data import Workspace
from shopml.recommend.base import Recommender
from shopml.recommend.train import load_interactions, model_class, parse_params, train_and_register
from shopml.registry import Registry


def test_parse_params():
    assert parse_params("l2=200,max_items=5000,flag=true,name=abc,none=null,f=0.5") == {
        "l2": 200, "max_items": 5000, "flag": True, "name": "abc", "none": None, "f": 0.5,
    }  # fmt: skip
    assert parse_params(None) == {} and parse_params("") == {}
    with pytest.raises(ValidationError, match="not key=value"):
        parse_params("l2")


def test_load_interactions_sources(shop_template):
    with Workspace(shop_template[0], read_only=True) as ws:
        events, used = load_interactions(ws, "auto")
        assert used == "events"
        n_events = ws.sql(
            "SELECT count(*) AS n FROM events WHERE user_id IS NOT NULL AND item_id IS NOT NULL "
            "AND event_type IN ('view', 'click', 'add_to_cart', 'purchase', 'wishlist', 'rating')"
        )["n"][0]
        assert len(events) == n_events and list(events.columns) == ["user_id", "item_id", "ts"]
        orders, used = load_interactions(ws, "orders")
        n_orders = ws.sql(
            "SELECT count(*) AS n FROM orders WHERE status = 'completed' AND user_id IS NOT NULL"
        )["n"][0]
        assert used == "orders" and len(orders) == n_orders
        with pytest.raises(ValidationError, match="source must be one of"):
            load_interactions(ws, "clicks")
    with Workspace(":memory:") as empty, pytest.raises(DataError, match="no interactions"):
        load_interactions(empty)


def test_train_and_register_records_what_the_server_needs(shop_template, tmp_path):
    mv = train_and_register(
        shop_template[0], tmp_path / "reg", "popularity", {"window_days": 7}, source="orders"
    )
    cfg = mv.meta["config"]
    assert (
        cfg["model"] == "popularity"
        and cfg["params"] == {"window_days": 7}
        and cfg["source"] == "orders"
    )
    with Workspace(shop_template[0], read_only=True) as ws:
        last = ws.sql(
            "SELECT max(ts) AS t FROM orders WHERE status = 'completed' AND user_id IS NOT NULL"
        )["t"][0]
        fp = ws.fingerprint("orders")
    assert cfg["data_until"] == last.isoformat()
    assert mv.meta["data_fingerprint"]["orders"] == fp
    model = Recommender.load(Registry(tmp_path / "reg").verify(mv).path)
    assert len(model.users_) == cfg["n_users"] and model.item_categories_ is not None
    with pytest.raises(ValidationError, match="unknown recommender"):
        model_class("svd")
    with pytest.raises(ValidationError, match="bad parameters for ease"):
        train_and_register(shop_template[0], tmp_path / "reg", "ease", {"lambda": 3})
    with pytest.raises(DataError, match="no workspace"):
        train_and_register(tmp_path / "missing.duckdb", tmp_path / "reg", "ease")
