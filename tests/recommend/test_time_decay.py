import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.recommend.ease import EASE
from shopml.recommend.interactions import Interactions
from shopml.recommend.time_decay import TimeDecayEASE, decayed_matrix
from tests.recommend.contract import RecommenderContract


class TestTimeDecayEASE(RecommenderContract):
    def _get_model(self):
        return TimeDecayEASE(l2=10.0, half_life_days=1.0)


def _frame(rows):
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts"]).assign(
        ts=lambda d: pd.to_datetime(d.ts)
    )


def test_decayed_matrix_halves_per_half_life_and_keeps_latest_repeat():
    df = _frame(
        [
            ("a", "x", "2024-01-01"),
            ("a", "x", "2024-01-21"),  # repeat: the latest counts, once
            ("a", "y", "2024-01-11"),
            ("b", "y", "2024-01-31"),  # the end of the data
        ]
    )
    data = Interactions.from_frame(df)
    M = decayed_matrix(data, half_life_days=10.0).toarray()
    u, i = data.users.encode(["a", "b"]), data.items.encode(["x", "y"])
    np.testing.assert_allclose(M[u[0], i[0]], 0.5**1)  # 10 days old
    np.testing.assert_allclose(M[u[0], i[1]], 0.5**2)  # 20 days old
    np.testing.assert_allclose(M[u[1], i[1]], 1.0)
    assert M[u[1], i[0]] == 0.0
    with pytest.raises(ValidationError, match="half_life_days"):
        decayed_matrix(data, 0.0)


def test_recent_co_purchases_outweigh_old_ones():
    """x went with 'old' a year ago and with 'new' last week: plain EASE cannot tell them
    apart, the decayed one prefers 'new'."""
    rows = []
    for u in range(20):
        rows += [(f"o{u}", "x", "2023-01-05"), (f"o{u}", "old", "2023-01-05")]
        rows += [(f"n{u}", "x", "2024-01-01"), (f"n{u}", "new", "2024-01-01")]
    df = _frame(rows)
    plain = EASE(l2=1.0).fit(df).recommend_for_history(["x"], k=2)
    assert np.isclose(*plain.score.to_numpy())  # a tie
    rec = TimeDecayEASE(l2=1.0, half_life_days=30.0).fit(df).recommend_for_history(["x"], k=2)
    assert rec.item_id.tolist() == ["new", "old"] and rec.score.iloc[0] > 10 * rec.score.iloc[1]


def test_long_half_life_approaches_plain_ease():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in rng.integers(0, 30, 300)],
            "item_id": [f"i{i}" for i in rng.integers(0, 15, 300)],
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 30, 300), unit="D"),
        }
    ).drop_duplicates(["user_id", "item_id"])  # no repeats: the binary matrix is the same
    plain = EASE(l2=5.0).fit(df)
    slow = TimeDecayEASE(l2=5.0, half_life_days=1e6).fit(df)
    np.testing.assert_allclose(slow.weights_, plain.weights_, atol=1e-4)
    fast = TimeDecayEASE(l2=5.0, half_life_days=3.0).fit(df)
    assert np.abs(fast.weights_ - plain.weights_).max() > 1e-2
