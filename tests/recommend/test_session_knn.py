import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.recommend.session_knn import SessionKNN
from tests.recommend.contract import RecommenderContract


class TestSKNN(RecommenderContract):
    def _get_model(self):
        return SessionKNN(k_neighbours=10, sample_size=None, position_weighting="none")


class TestVSKNN(RecommenderContract):
    def _get_model(self):
        return SessionKNN(k_neighbours=10, sample_size=30, position_weighting="linear")


def _sessions(rows):
    """rows: (session, [items in order], day)"""
    out = []
    for s, items, day in rows:
        for j, i in enumerate(items):
            out.append((s, i, pd.Timestamp("2024-01-01") + pd.Timedelta(days=day, minutes=j)))
    return pd.DataFrame(out, columns=["session_id", "item_id", "ts"])


def test_scores_are_summed_cosine_of_neighbours():
    df = _sessions([("s1", ["a", "b"], 0), ("s2", ["a", "c", "d"], 1), ("s3", ["e", "f"], 2)])
    model = SessionKNN(k_neighbours=5, sample_size=None, position_weighting="none")
    model.fit(df, user_col="session_id")
    rec = model.recommend_for_history(["a"], k=3)
    # query {a}: cos with s1 = 1/sqrt(2), with s2 = 1/sqrt(3); s3 shares nothing
    got = dict(zip(rec.item_id, rec.score, strict=True))
    assert _scored(rec) == {"b", "c", "d"}
    np.testing.assert_allclose(got["b"], 1 / np.sqrt(2), rtol=1e-5)
    np.testing.assert_allclose(got["c"], 1 / np.sqrt(3), rtol=1e-5)


def _scored(rec):
    return set(rec.loc[rec.score > 0, "item_id"])


def test_sample_keeps_most_recent_candidates_and_k_cuts():
    # the old session shares two items with the query (more similar), the recent one shares one
    df = _sessions([("old", ["a", "b", "x"], 0), ("new", ["a", "y", "z", "w"], 5)])
    both = SessionKNN(k_neighbours=5, sample_size=None, position_weighting="none").fit(
        df, user_col="session_id"
    )
    assert _scored(both.recommend_for_history(["a", "b"], k=10)) == {"x", "y", "z", "w"}
    recent = SessionKNN(k_neighbours=5, sample_size=1, position_weighting="none").fit(
        df, user_col="session_id"
    )
    assert _scored(recent.recommend_for_history(["a", "b"], k=10)) == {"y", "z", "w"}
    nearest = SessionKNN(k_neighbours=1, sample_size=None, position_weighting="none").fit(
        df, user_col="session_id"
    )
    assert _scored(nearest.recommend_for_history(["a", "b"], k=10)) == {"x"}


def test_position_weighting_favours_the_latest_click():
    df = _sessions([("s1", ["a", "p"], 0), ("s2", ["b", "q"], 0)])
    kw = {"k_neighbours": 5, "sample_size": None}
    plain = SessionKNN(position_weighting="none", **kw).fit(df, user_col="session_id")
    r = plain.recommend_for_history(["a", "b"], k=2)
    assert np.isclose(*r.score.to_numpy())
    for w in ("linear", "inverse"):
        m = SessionKNN(position_weighting=w, **kw).fit(df, user_col="session_id")
        # b is the later click, so the session holding b is closer
        assert m.recommend_for_history(["a", "b"], k=2).item_id.tolist() == ["q", "p"]
        # a repeated item keeps its latest (largest) weight
        assert m.recommend_for_history(["b", "a", "b"], k=2).item_id.tolist() == ["q", "p"]


def test_a_known_session_is_not_its_own_neighbour():
    df = _sessions([("s1", ["a", "b"], 0), ("s2", ["a", "c"], 1)])
    model = SessionKNN(k_neighbours=5, sample_size=None).fit(df, user_col="session_id")
    rec = model.recommend(["s1"], k=5, exclude_seen=False)
    # only s2 is a neighbour: b (in s1 alone) gets nothing
    assert _scored(rec) == {"a", "c"}


def test_bad_parameters():
    df = _sessions([("s1", ["a", "b"], 0)])
    for kw, name in (
        ({"k_neighbours": 0}, "k_neighbours"),
        ({"sample_size": 0}, "sample_size"),
        ({"position_weighting": "cubic"}, "position_weighting"),
    ):
        with pytest.raises(ValidationError, match=name):
            SessionKNN(**kw).fit(df, user_col="session_id")


def test_batched_sequences_score_like_one_at_a_time():
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "session_id": [f"s{s}" for s in rng.integers(0, 80, 500)],
            "item_id": [f"i{i}" for i in rng.integers(0, 40, 500)],
            "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.permutation(500), unit="min"),
        }
    )
    model = SessionKNN(k_neighbours=20, sample_size=50).fit(df, user_col="session_id")
    seqs = [rng.integers(0, 40, n) for n in (1, 3, 6, 2)]
    batched = model.top_k_for_sequences(seqs, 8)
    single = np.vstack([model.top_k_for_sequences([s], 8) for s in seqs])
    np.testing.assert_array_equal(batched, single)
