"""The recommendation protocol of shopml.evaluation: splits into relevant matrices, scoring."""

import numpy as np
import pandas as pd
import pytest

from shopml.core.errors import ValidationError
from shopml.evaluation import evaluate, make_split, stratified_user_split, temporal_split
from shopml.recommend.interactions import Interactions

BUILD = Interactions.from_frame


def _frame(n_users: int = 30, per_user: int = 12, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for u in range(n_users):
        for j, i in enumerate(rng.choice(40, size=per_user + u % 5, replace=False)):
            rows.append(
                (
                    f"u{u}",
                    f"i{i}",
                    pd.Timestamp("2024-01-01") + pd.Timedelta(days=int(rng.integers(0, 120)) + j),
                )
            )
    return pd.DataFrame(rows, columns=["user_id", "item_id", "ts"])


def test_stratified_split_keeps_three_quarters_of_each_user():
    df = _frame()
    train, test = stratified_user_split(df, 0.75, seed=42, rounding="round")
    assert len(train) + len(test) == len(df)
    n = df.groupby("user_id").size()
    got = train.groupby("user_id").size().reindex(n.index)
    np.testing.assert_array_equal(got.to_numpy(), np.round(0.75 * n.to_numpy()))
    again, _ = stratified_user_split(df, 0.75, seed=42, rounding="round")
    pd.testing.assert_frame_equal(train, again)
    other, _ = stratified_user_split(df, 0.75, seed=7, rounding="round")
    assert not train.equals(other)
    with pytest.raises(ValidationError, match="ratio"):
        stratified_user_split(df, 1.5)


def test_temporal_split_and_relevant_matrix():
    df = _frame()
    train, test = temporal_split(df, test_days=30)
    assert train.ts.max() < test.ts.min()
    split = make_split(
        "t", train, test, exclude_seen=True, protocol="p", novel_only=True, interactions=BUILD
    )
    rel = split.relevant
    assert rel.shape[1] >= split.train.n_items
    # novel only: no relevant pair was already in the user's training history
    seen = split.train.matrix.toarray() > 0
    r, c = rel.nonzero()
    known = c < split.train.n_items
    assert not seen[r[known], c[known]].any()
    # only users present in both periods have relevant items
    users = set(split.train.users.decode(split.users))
    assert users <= set(train.user_id) & set(test.user_id)


def test_test_only_items_count_as_relevant_misses():
    train = pd.DataFrame(
        {"user_id": ["a", "a", "b"], "item_id": ["x", "y", "x"], "ts": pd.Timestamp("2024-01-01")}
    )
    test = pd.DataFrame(
        {
            "user_id": ["a", "a", "b", "c"],
            "item_id": ["new", "x", "y", "x"],
            "ts": pd.Timestamp("2024-02-01"),
        }
    )
    split = make_split("t", train, test, exclude_seen=False, protocol="p", interactions=BUILD)
    assert split.relevant.shape == (2, 3)  # items x, y and the test-only item
    assert split.stats["test_only_items"] == 1 and split.stats["test_users"] == 2  # c is unknown


def _old_benchmark_stratified(df, ratio, seed):
    """The benchmark's split before it moved into shopml.evaluation (published numbers)."""
    rnd = np.random.RandomState(seed).rand(len(df))
    codes = pd.factorize(df["user_id"])[0]
    order = np.lexsort((rnd, codes))
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(df), dtype=np.int64)
    rank[order] = np.arange(len(df)) - starts[codes[order]] + 1
    in_train = rank <= np.round(ratio * counts[codes])
    return df[in_train], df[~in_train]


@pytest.mark.parametrize("ratio,seed", [(0.75, 42), (0.75, 43), (0.5, 1), (0.3, 7)])
def test_round_rule_reproduces_the_published_benchmark_split(ratio, seed):
    df = _frame(n_users=40, per_user=3)  # small users: floor and round disagree often
    train, test = stratified_user_split(df, ratio, seed=seed, rounding="round")
    old_train, old_test = _old_benchmark_stratified(df, ratio, seed)
    pd.testing.assert_frame_equal(train, old_train)
    pd.testing.assert_frame_equal(test, old_test)
    floor_train, _ = stratified_user_split(df, ratio, seed=seed)
    assert len(floor_train) <= len(train)
    with pytest.raises(ValidationError, match="rounding"):
        stratified_user_split(df, ratio, seed=seed, rounding="ceil")


def test_test_days_is_the_last_days_before_the_latest_time():
    df = _frame()
    split = temporal_split(df, test_days=30)
    cut = df.ts.max() - pd.Timedelta(days=30)
    assert (split.train.ts < cut).all() and (split.test.ts >= cut).all()
    assert split.params["test_days"] == 30
    with pytest.raises(ValidationError, match="datetime"):
        temporal_split(df.assign(ts=np.arange(len(df))), test_days=3)
    with pytest.raises(ValidationError, match="exactly one"):
        temporal_split(df, at=cut, test_days=30)
    with pytest.raises(ValidationError, match="empty"):
        temporal_split(df, test_days=1000)


class _Oracle:
    """Recommends each user's relevant test items first: every metric is perfect."""

    def __init__(self, split):
        self.split = split

    def top_k_indices(self, users, k, exclude_seen=True):
        rel = self.split.relevant[users].toarray()
        return np.argsort(-rel, axis=1, kind="stable")[:, :k]


def test_evaluate_scores_a_model_on_the_split_users():
    df = _frame()
    train, test = temporal_split(df, test_days=30)
    split = make_split("t", train, test, True, "p", novel_only=False, interactions=BUILD)
    report, seconds = evaluate(_Oracle(split), split, k=10)
    means = report.means()
    assert report.n_users == len(split.users) and seconds >= 0
    assert means["hit_rate@10"] == 1.0
    # a model that ranks the least relevant items first scores lower
    worst = type(
        "Worst",
        (),
        {
            "top_k_indices": lambda self, u, k, exclude_seen=True: np.argsort(
                split.relevant[u].toarray(), axis=1, kind="stable"
            )[:, :k]
        },
    )()
    assert evaluate(worst, split, k=10)[0].means()["ndcg@10"] < means["ndcg@10"]
