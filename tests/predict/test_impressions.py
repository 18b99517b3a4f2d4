"""CTR features from impressions: discovered context keys, per-arm lists read at the shown
action, identifiers and constant columns left out, time order; and the real Open Bandit log."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import DataError
from shopml.data.loaders.base import data_dir
from shopml.data.workspace import Workspace
from shopml.predict.impressions import impression_features


@pytest.fixture()
def ws():
    w = Workspace(":memory:")
    w.append(
        "items",
        pd.DataFrame(
            {
                "item_id": ["0", "1", "2"],
                "category": ["shoes", "shoes", "bags"],
                "attributes": [
                    '{"weight": 1.5, "campaign": "all"}',
                    '{"weight": 2.0, "campaign": "all"}',
                    '{"weight": 0.5, "campaign": "all"}',
                ],
            }
        ),
    )
    ctx = [
        json.dumps(
            {
                "decision_id": f"d{i}",
                "segment": "ab"[i % 2],
                "visits": i,
                "affinity": [0.1, 0.2, 0.3],
            }
        )
        for i in range(6)
    ]
    w.append(
        "impressions",
        pd.DataFrame(
            {
                "impression_id": [f"i{i}" for i in range(6)],
                # written out of time order: the features must come back sorted
                "ts": pd.to_datetime(
                    [
                        "2024-01-06",
                        "2024-01-05",
                        "2024-01-04",
                        "2024-01-03",
                        "2024-01-02",
                        "2024-01-01",
                    ],
                    utc=True,
                ),
                "context": ctx,
                "action": ["0", "1", "2", "0", "1", "2"],
                "position": np.array([1, 2, 3, 1, 2, 3], dtype=np.int32),
                "reward": [1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
                "propensity": 0.5,
                "policy": "random",
            }
        ),
    )
    yield w
    w.close()


def test_features_from_context_and_catalogue(ws):
    d = impression_features(ws)
    assert list(d.impression_id) == [f"i{i}" for i in range(5, -1, -1)]  # time order
    assert d.y.tolist() == [0, 1, 0, 0, 0, 1]
    # the affinity list is read at the shown arm: actions 2,1,0,2,1,0 in time order
    np.testing.assert_allclose(d.X["affinity"], [0.3, 0.2, 0.1, 0.3, 0.2, 0.1])
    assert set(d.categorical) == {"position", "item", "item_category", "segment"}
    assert set(d.numeric) == {"affinity", "visits", "item_weight"}
    assert "identifier" in d.dropped["decision_id"]
    assert "single value" in d.dropped["item_campaign"] and "item_brand" in d.dropped
    assert d.X["item_category"].tolist() == ["bags", "shoes", "shoes", "bags", "shoes", "shoes"]


def test_where_and_empty(ws):
    assert len(impression_features(ws, where="position = 1")) == 2
    with pytest.raises(DataError, match="no impressions"):
        impression_features(ws, where="position = 9")


def test_open_bandit_affinity_matches_the_log():
    folder = data_dir() / "open_bandit_dataset"
    if not (folder / "random/all/all.csv").exists():
        pytest.skip(f"Open Bandit data not found under {folder}")
    with Workspace(":memory:") as w:
        w.ingest_dataset("open-bandit")
        d = impression_features(w, where="policy = 'random'")
    raw = pd.read_csv(Path(folder) / "random/all/all.csv", index_col=0)
    assert len(d) == 10_000 and int(d.y.sum()) == int(raw["click"].sum()) == 38
    idx = d.impression_id.astype(str)
    rows = np.array([int(s.rsplit("/", 1)[1]) for s in idx[:500]])
    aff = raw[[f"user-item_affinity_{k}" for k in range(80)]].to_numpy()
    np.testing.assert_allclose(
        d.X["user_item_affinity"].to_numpy()[:500], aff[rows, raw["item_id"].to_numpy()[rows]]
    )
    assert {"position", "item", "user_feature_0", "item_feature_1"} <= set(d.categorical)
