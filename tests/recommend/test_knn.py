import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from shopml.core.errors import ValidationError
from shopml.recommend.knn import TIFUKNN, ItemKNN, UserKNN
from tests.recommend.contract import RecommenderContract, toy_interactions


class TestItemKNN(RecommenderContract):
    def _get_model(self):
        return ItemKNN(k_neighbours=20, shrinkage=5.0)


class TestUserKNN(RecommenderContract):
    def _get_model(self):
        return UserKNN(k_neighbours=10, shrinkage=5.0)


def _frame(X: np.ndarray) -> pd.DataFrame:
    u, i = np.nonzero(X)
    return pd.DataFrame({"user_id": [f"u{a}" for a in u], "item_id": [f"i{b}" for b in i]})


# 5 users × 4 items, every user and item present
X_SMALL = np.array(
    [[1, 1, 0, 0], [1, 1, 1, 0], [0, 1, 1, 1], [1, 0, 0, 1], [0, 0, 1, 1]], dtype=np.float64
)


def test_item_similarity_is_shrunk_cosine():
    model = ItemKNN(k_neighbours=10, shrinkage=2.0).fit(_frame(X_SMALL))
    order = model.items_.encode([f"i{j}" for j in range(4)])
    S = model.similarity_.toarray()[np.ix_(order, order)]
    norms = np.linalg.norm(X_SMALL, axis=0)
    expected = (X_SMALL.T @ X_SMALL) / (np.outer(norms, norms) + 2.0)
    np.fill_diagonal(expected, 0.0)
    np.testing.assert_allclose(S, expected, rtol=1e-5)


def test_item_neighbours_are_pruned_to_the_best_k():
    df, _ = toy_interactions()
    full = ItemKNN(k_neighbours=1000, shrinkage=0.0).fit(df).similarity_.toarray()
    pruned = ItemKNN(k_neighbours=3, shrinkage=0.0).fit(df).similarity_.toarray()
    assert ((pruned > 0).sum(axis=1) <= 3).all()
    kept = pruned > 0
    np.testing.assert_allclose(pruned[kept], full[kept])
    # every dropped value is no larger than the smallest kept value of its row
    smallest_kept = np.where(kept, pruned, np.inf).min(axis=1)
    dropped = np.where(kept, -np.inf, full).max(axis=1)
    assert (dropped <= smallest_kept + 1e-7).all()


def test_item_knn_scores_and_explain():
    model = ItemKNN(k_neighbours=10, shrinkage=0.0).fit(_frame(X_SMALL))
    rec = model.recommend_for_history(["i0"], k=3)
    # items co-occurring with i0: i1 (2 users) and i2, i3 (1 each); i1 has the highest cosine
    assert rec.item_id.iloc[0] == "i1"
    why = model.explain("u0", "i2")
    assert {w["because_of"] for w in why} <= {"i0", "i1"} and why[0]["similarity"] > 0


def test_user_pearson_matches_numpy():
    model = UserKNN(k_neighbours=4, shrinkage=0.0).fit(_frame(X_SMALL))
    from shopml.recommend.base import Batch

    H = model.train_
    corr_np = np.corrcoef(H.toarray())
    # score of item i for user u is sum over positive-correlation neighbours of corr * x_vi
    batch = Batch(np.arange(5), H, [np.empty(0, np.int64)] * 5)
    scores = model._score(batch)
    W = np.where(corr_np > 0, corr_np, 0.0)
    np.fill_diagonal(W, 0.0)
    np.testing.assert_allclose(scores, W @ H.toarray(), rtol=1e-5, atol=1e-6)


def test_user_knn_cold_history_and_params():
    df, _ = toy_interactions()
    model = UserKNN(k_neighbours=10).fit(df)
    hist = df.loc[df.user_id == "u2", "item_id"].tolist()  # a group-0 user
    rec = model.recommend_for_history(hist, k=5)
    assert (rec.item_id.str[1:].astype(int) % 2 == 0).mean() >= 0.8
    with pytest.raises(ValidationError, match="k_neighbours"):
        UserKNN(k_neighbours=0).fit(df)
    with pytest.raises(ValidationError, match="shrinkage"):
        ItemKNN(shrinkage=-1).fit(df)


def test_item_knn_blocks_give_the_same_matrix(monkeypatch):
    import shopml.recommend.knn as knn

    df, _ = toy_interactions()
    whole = ItemKNN(k_neighbours=5).fit(df).similarity_
    monkeypatch.setattr(knn, "_ITEM_BLOCK", 7)
    blocked = ItemKNN(k_neighbours=5).fit(df).similarity_
    assert sp.issparse(blocked)
    np.testing.assert_allclose(blocked.toarray(), whole.toarray())


class TestTIFUKNN(RecommenderContract):
    def _get_model(self):
        return TIFUKNN(k_neighbours=10, self_weight=0.5, decay=0.9)


def test_tifu_vectors_weigh_recent_and_repeated_items():
    df = pd.DataFrame(
        {
            "user_id": ["a", "a", "a", "b"],
            "item_id": ["x", "y", "x", "y"],
            "ts": pd.to_datetime(["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-01"]),
        }
    )
    model = TIFUKNN(k_neighbours=1, self_weight=1.0, decay=0.5).fit(df)
    v = model.user_vectors_.toarray()[model.users_.encode(["a"])[0]]
    x, y = model.items_.encode(["x", "y"])
    # x bought last (weight 1) and first (0.25), y in between (0.5): normalised by 1.75
    np.testing.assert_allclose([v[x], v[y]], [1.25 / 1.75, 0.5 / 1.75])
    # repeat purchases allowed: with self_weight 1 the user's own favourite comes first
    assert model.recommend(["a"], k=1, exclude_seen=False).item_id.tolist() == ["x"]
    hist = model.recommend_for_history(["y", "x"], k=2, exclude_seen=False)
    assert hist.item_id.tolist() == ["x", "y"]
    with pytest.raises(ValidationError, match="self_weight"):
        TIFUKNN(self_weight=2.0).fit(df)
    with pytest.raises(ValidationError, match="decay"):
        TIFUKNN(decay=0.0).fit(df)
