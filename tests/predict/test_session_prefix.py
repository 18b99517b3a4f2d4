"""Session-prefix examples: only sessions that reach the n-th event, none already converted,
no event after the n-th, past sales strictly before the session's day; and DIGINETICA."""

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import DataError, ValidationError
from shopml.data.loaders.base import data_dir
from shopml.data.workspace import Workspace
from shopml.predict.session_prefix import session_prefixes

DIGINETICA_CLOCK = "TRY_CAST(json_extract(attributes, '$.timeframe') AS BIGINT)"


@pytest.fixture()
def ws():
    rows = [
        # session, user, item, type, time
        ("old", "u1", "a", "view", "2024-01-01 10:00:00"),
        ("old", "u1", "a", "purchase", "2024-01-01 10:05:00"),
        ("s1", "u1", "a", "view", "2024-01-03 09:00:00"),
        ("s1", None, "b", "view", "2024-01-03 09:00:10"),
        ("s1", None, "c", "view", "2024-01-03 09:01:00"),  # third event: never a feature at n=2
        ("s1", None, "c", "purchase", "2024-01-03 09:02:00"),
        ("s2", None, "b", "view", "2024-01-02 12:00:00"),
        ("s2", None, "a", "view", "2024-01-02 12:00:30"),
        ("s3", None, "a", "view", "2024-01-04 08:00:00"),
        ("s3", None, "a", "purchase", "2024-01-04 08:00:05"),  # bought before its 2nd view
        ("s3", None, "b", "view", "2024-01-04 08:01:00"),
        ("s4", None, "a", "view", "2024-01-05 08:00:00"),  # one event: never reaches n=2
    ]
    ev = pd.DataFrame(rows, columns=["session_id", "user_id", "item_id", "event_type", "ts"])
    ev["ts"] = pd.to_datetime(ev["ts"], utc=True)
    ev["event_id"] = [f"e{i}" for i in range(len(ev))]
    w = Workspace(":memory:")
    w.append("items", pd.DataFrame({"item_id": ["a", "b", "c"], "category": ["x", "x", "y"]}))
    w.append("events", ev)
    yield w
    w.close()


def test_examples_labels_and_exclusions(ws):
    d = session_prefixes(ws, 2)
    assert list(d.session_id) == ["s2", "s1"]  # time order of the first event
    assert d.y.tolist() == [0, 1]
    assert d.excluded == {
        "sessions_with_browsing": 5,
        "fewer_than_2_events": 2,
        "bought_before_the_prediction": 1,
    }
    assert d.X[["item_1", "item_2"]].values.tolist() == [["b", "a"], ["a", "b"]]
    assert d.X["category_2"].tolist() == ["x", "x"]
    assert (
        d.sequences["item"] == ["item_1", "item_2"] and "event" not in d.sequences
    )  # one browsing type
    np.testing.assert_allclose(d.X["gap_2"], np.log1p([30.0, 10.0]))
    np.testing.assert_allclose(d.X["prefix_seconds"], [30.0, 10.0])
    # s1's user bought on 2024-01-01, before s1's day; s2 is anonymous
    assert d.X["user_prior_purchase_days"].tolist() == [0.0, 1.0]
    assert d.X["user_known"].tolist() == [0.0, 1.0]
    # item a sold once on 01-01 (before both sessions' days); s3's sale on 01-04 is after both
    np.testing.assert_allclose(d.X["item_sales_2"], np.log1p([1.0, 0.0]))
    assert not any(c.endswith("_3") for c in d.X.columns)


def test_n_one_keeps_every_browsing_session(ws):
    d = session_prefixes(ws, 1)
    assert sorted(d.session_id) == ["old", "s1", "s2", "s3", "s4"]
    assert dict(zip(d.session_id, d.y, strict=True)) == {
        "old": 1,
        "s1": 1,
        "s2": 0,
        "s3": 1,
        "s4": 0,
    }


def test_bad_n(ws):
    with pytest.raises(ValidationError, match="n"):
        session_prefixes(ws, 0)
    with pytest.raises(DataError, match="9 browsing events"):
        session_prefixes(ws, 9)


def test_diginetica_prefixes():
    folder = data_dir() / "diginetica_sample"
    if not (folder / "sample_train-item-views.csv").exists():
        pytest.skip(f"DIGINETICA sample not found under {folder}")
    with Workspace(":memory:") as w:
        w.ingest_dataset("diginetica")
        d = session_prefixes(w, 2, order_by=DIGINETICA_CLOCK)
    # 2,986 sessions with views; 933 have one view; 1 bought before its second view
    assert len(d) == 2052 and int(d.y.sum()) == 117
    assert (
        d.excluded["fewer_than_2_events"] == 933 and d.excluded["bought_before_the_prediction"] == 1
    )
    assert d.start.is_monotonic_increasing
    assert d.X["item_1"].notna().all() and d.X["item_2"].notna().all()
