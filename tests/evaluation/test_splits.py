import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shopml.core.errors import DataError, ValidationError
from shopml.data.loaders.base import data_dir
from shopml.evaluation.splits import (
    Split,
    filter_test_to_known,
    fraction_split,
    last_item_of_session,
    leave_last_k_out,
    session_split,
    stratified_user_split,
    tail_split,
    temporal_split,
)

PROPS = settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def logs(draw, min_rows=1, max_rows=60):
    """Random interaction logs with many time ties, a shuffled non-default index, and sessions."""
    n = draw(st.integers(min_rows, max_rows))
    user = draw(st.lists(st.integers(0, 6), min_size=n, max_size=n))
    item = draw(st.lists(st.integers(0, 12), min_size=n, max_size=n))
    ts = draw(st.lists(st.integers(0, 15), min_size=n, max_size=n))
    session = draw(st.lists(st.integers(0, 9), min_size=n, max_size=n))
    index = draw(st.permutations(range(100, 100 + n)))
    return pd.DataFrame(
        {
            "user_id": [f"u{u}" for u in user],
            "item_id": item,
            "ts": ts,
            "session_id": session,
        },
        index=index,
    )


def assert_partition(df: pd.DataFrame, split: Split) -> None:
    """train and test together are exactly the input: no row lost, none duplicated or altered."""
    both = pd.concat([split.train, split.test])
    assert not both.index.duplicated().any()
    pd.testing.assert_frame_equal(both.loc[df.index], df)
    # each side keeps the input's row order
    for side in (split.train, split.test):
        pos = df.index.get_indexer(side.index)
        assert (np.diff(pos) > 0).all()


def movielens() -> pd.DataFrame:
    path = data_dir() / "movielens_100k" / "u.data"
    if not path.exists():
        pytest.skip(f"{path} not available")
    return pd.read_csv(path, sep="\t", names=["user_id", "item_id", "rating", "ts"])


# --- temporal ------------------------------------------------------------------------------------


@PROPS
@given(logs(min_rows=2), st.floats(0.01, 0.99))
def test_temporal_fraction_never_leaks(df, f):
    n = len(df)
    n_test = min(max(int(np.floor(f * n + 0.5)), 1), n - 1)
    cut = np.sort(df.ts.to_numpy())[n - n_test]
    if (df.ts < cut).sum() == 0:  # everything ties with the cut: no honest split exists
        with pytest.raises(ValidationError, match="leaves train empty"):
            temporal_split(df, test_fraction=f)
        return
    split = temporal_split(df, test_fraction=f)
    assert_partition(df, split)
    assert split.train.ts.max() < split.test.ts.min()
    assert split.test.ts.min() == cut == split.describe()["cut"]
    assert len(split.test) >= n_test  # ties at the cut go to test
    assert len(split.test) == (df.ts >= cut).sum()


@PROPS
@given(logs(), st.integers(0, 16))
def test_temporal_at_cut(df, at):
    if not (df.ts < at).any() or not (df.ts >= at).any():
        with pytest.raises(ValidationError, match="leaves (train|test) empty"):
            temporal_split(df, at=at)
        return
    split = temporal_split(df, at=at)
    assert_partition(df, split)
    assert split.train.ts.max() < at <= split.test.ts.min()


def test_temporal_tie_policy_and_fraction_rounding():
    df = pd.DataFrame(
        {"user_id": list("abcdefghij"), "item_id": 0, "ts": [1, 2, 3, 4, 5, 6, 7, 8, 8, 9]}
    )
    # 10 rows, 20% -> 2 test rows -> cut at the 2nd latest time (8), which ties with a 3rd row
    split = temporal_split(df, test_fraction=0.2)
    assert split.test.ts.tolist() == [8, 8, 9] and split.train.ts.max() == 7
    # 25% of 10 = 2.5 rounds half up to 3 rows
    assert len(temporal_split(df, test_fraction=0.25).test) == 3
    assert len(temporal_split(df, at=8).test) == 3  # ts >= at -> test
    assert len(temporal_split(df, at=8.5).test) == 1


def test_temporal_datetimes_and_time_zones():
    ts = pd.to_datetime(
        ["2024-01-01 10:00", "2024-01-02 00:00", "2024-01-03 00:00", "2024-01-04 00:00"], utc=True
    )
    df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 3, 4], "ts": ts})
    split = temporal_split(df, at="2024-01-03")  # naive: read in the column's zone (UTC)
    assert len(split.train) == 2 and split.describe()["cut"] == "2024-01-03T00:00:00+00:00"
    # an aware cut on a naive column is converted to UTC first
    naive = df.assign(ts=df.ts.dt.tz_localize(None))
    cut = pd.Timestamp("2024-01-03 01:00", tz="Europe/Paris")  # = 00:00 UTC
    assert len(temporal_split(naive, at=cut).train) == 2
    with pytest.raises(ValidationError, match="is a number but column 'ts' holds datetimes"):
        temporal_split(df, at=5)
    with pytest.raises(ValidationError, match="not a number"):
        temporal_split(df.assign(ts=np.arange(4)), at="2024-01-01")


def test_temporal_argument_errors():
    df = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2], "ts": [1, 2]})
    with pytest.raises(ValidationError, match="exactly one of"):
        temporal_split(df)
    with pytest.raises(ValidationError, match="exactly one of"):
        temporal_split(df, at=1, test_fraction=0.5)
    with pytest.raises(ValidationError, match=r"test_fraction must be in \(0, 1\)"):
        temporal_split(df, test_fraction=1.0)
    with pytest.raises(ValidationError, match=r"lacks column\(s\) \['when'\]"):
        temporal_split(df, at=1, time_col="when")
    with pytest.raises(ValidationError, match="missing values"):
        temporal_split(df.assign(ts=[1, None]), at=1)
    with pytest.raises(ValidationError, match="leaves test empty"):
        temporal_split(df, at=3)
    text_times = df.assign(ts=["9", "10"])  # would sort as text
    for call in (
        lambda: temporal_split(text_times, test_fraction=0.5),
        lambda: leave_last_k_out(text_times),
        lambda: session_split(text_times.assign(session_id=1), test_fraction=0.5),
        lambda: last_item_of_session(text_times.assign(session_id=1)),
    ):
        with pytest.raises(ValidationError, match="column 'ts' has dtype object; expected numbers"):
            call()


# --- leave last k out -----------------------------------------------------------------------------


@PROPS
@given(logs(), st.integers(1, 3), st.integers(0, 2))
def test_leave_last_k_out_properties(df, k, min_train):
    split = leave_last_k_out(df, k=k, min_train=min_train)
    assert_partition(df, split)
    n = df.groupby("user_id").size()
    n_test = split.test.groupby("user_id").size().reindex(n.index, fill_value=0)
    expected = pd.Series(np.where(n >= k + min_train, k, 0), index=n.index)
    pd.testing.assert_series_equal(n_test, expected, check_names=False, check_dtype=False)
    # no leakage: per user, every test time is at or after every train time
    last_train = split.train.groupby("user_id").ts.max()
    first_test = split.test.groupby("user_id").ts.min()
    both = pd.concat([last_train, first_test], axis=1, keys=["train", "test"]).dropna()
    assert (both.train <= both.test).all()
    assert split.describe()["users_train_only"] == int((n < k + min_train).sum())


def test_leave_last_k_out_breaks_time_ties_by_row_order():
    df = pd.DataFrame(
        {
            "user": ["a"] * 4 + ["b"] * 3 + ["c"],
            "item": [10, 11, 12, 13, 20, 21, 22, 30],
            "when": [5, 5, 5, 1, 9, 3, 3, 1],
        }
    )
    split = leave_last_k_out(df, k=2, user_col="user", item_col="item", time_col="when")
    # a: times 5,5,5,1 -> the two last in time are the last two of the tied 5s (items 11, 12)
    # b: times 9,3,3 -> 9 is the latest, then the later of the tied 3s (item 22)
    # c: one interaction < k + min_train -> stays in train
    assert sorted(split.test.item) == [11, 12, 20, 22]
    assert split.describe()["users_train_only"] == 1
    assert split.describe()["test_users"] == 2


def test_leave_last_k_out_on_movielens():
    df = movielens()
    split = leave_last_k_out(df, k=1)
    assert len(split.test) == 943 and len(split.train) == 99_057  # every user rated >= 20 movies
    merged = split.test.merge(split.train.groupby("user_id").ts.max().rename("last"), on="user_id")
    assert (merged.ts >= merged["last"]).all()


def test_leave_last_k_out_argument_errors():
    df = pd.DataFrame({"user_id": [1], "item_id": [1], "ts": [1]})
    with pytest.raises(ValidationError, match="k must be an integer >= 1"):
        leave_last_k_out(df, k=0)
    with pytest.raises(ValidationError, match="min_train must be an integer >= 0"):
        leave_last_k_out(df, min_train=-1)
    with pytest.raises(ValidationError, match="expects a pandas DataFrame"):
        leave_last_k_out(df.to_dict())


# --- stratified per user ----------------------------------------------------------------


@PROPS
@given(logs(), st.sampled_from([0.5, 0.75, 0.8, 0.9]), st.integers(0, 2**32 - 1))
def test_stratified_counts_follow_the_ratio(df, ratio, seed):
    split = stratified_user_split(df, ratio=ratio, seed=seed)
    assert_partition(df, split)
    n = df.groupby("user_id").size()
    n_train = split.train.groupby("user_id").size().reindex(n.index, fill_value=0)
    # train keeps the largest k with k / n <= ratio, i.e. floor(ratio * n) for these ratios
    num, den = {0.5: (1, 2), 0.75: (3, 4), 0.8: (4, 5), 0.9: (9, 10)}[ratio]
    assert (n_train == (num * n) // den).all()
    again = stratified_user_split(df, ratio=ratio, seed=seed)
    assert again.train.index.equals(split.train.index)


def test_stratified_on_movielens_sizes_and_recommenders_protocol():
    df = movielens()
    split = stratified_user_split(df, ratio=0.75, seed=42)
    assert len(split.train) == 74_646 and len(split.test) == 25_354
    n = df.groupby("user_id").size()
    assert len(split.train) == int(((3 * n) // 4).sum())
    d = split.describe()
    assert d["train_users"] == d["test_users"] == 943 and d["users_test_only"] == 0
    # Microsoft Recommenders' python_stratified_split, restated: global seed, one draw per row in
    # input order, sort by (user, draw), rank / count <= ratio -> train
    ref = df.copy()
    np.random.seed(42)
    ref["random"] = np.random.rand(len(ref))
    ref = ref.sort_values(["user_id", "random"])
    grp = ref.groupby("user_id")
    in_train = (grp.cumcount() + 1) / grp["user_id"].transform("count") <= 0.75
    assert ref.index[in_train].sort_values().equals(split.train.index)
    # another seed gives another split of the same sizes
    other = stratified_user_split(df, ratio=0.75, seed=7)
    assert len(other.train) == 74_646 and not other.train.index.equals(split.train.index)


def test_stratified_small_users_and_errors():
    df = pd.DataFrame({"user_id": ["a", "b", "b", "c", "c", "c", "c"], "item_id": range(7)})
    split = stratified_user_split(df, ratio=0.75)
    assert split.train.groupby("user_id").size().to_dict() == {"b": 1, "c": 3}
    assert split.describe()["users_test_only"] == 1  # 'a' has 1 interaction: 1/1 > 0.75
    with pytest.raises(ValidationError, match="ratio must be in"):
        stratified_user_split(df, ratio=1.5)
    with pytest.raises(ValidationError, match="seed must be an integer"):
        stratified_user_split(df, seed=-1)


# --- sessions ---------------------------------------------------------------------------


@PROPS
@given(logs(min_rows=2), st.floats(0.05, 0.95))
def test_session_split_keeps_sessions_whole(df, f):
    starts = df.groupby("session_id").ts.min()
    n = len(starts)
    n_test = min(max(int(np.floor(f * n + 0.5)), 1), max(n - 1, 1))
    cut = np.sort(starts.to_numpy())[n - n_test]
    if (starts < cut).sum() == 0:
        with pytest.raises(ValidationError, match="leaves train empty"):
            session_split(df, test_fraction=f)
        return
    split = session_split(df, test_fraction=f)
    assert_partition(df, split)
    assert not set(split.train.session_id) & set(split.test.session_id)
    assert (split.test.groupby("session_id").ts.min() >= cut).all()
    assert (split.train.groupby("session_id").ts.min() < cut).all()
    d = split.describe()
    assert d["test_sessions"] == (starts >= cut).sum() and d["test_sessions"] >= n_test
    assert d["train_sessions"] + d["test_sessions"] == n


def test_session_split_at_time_counts_crossing_sessions():
    df = pd.DataFrame(
        {
            "session_id": ["s1", "s1", "s2", "s2", "s3"],
            "item_id": [1, 2, 3, 4, 5],
            "ts": pd.to_datetime(
                ["2024-01-01", "2024-01-05", "2024-01-04", "2024-01-06", "2024-01-09"]
            ),
        }
    )
    split = session_split(df, at="2024-01-04", user_col="none")
    assert split.train.session_id.tolist() == ["s1", "s1"]  # s1 runs past the cut but stays whole
    d = split.describe()
    assert (d["train_sessions"], d["test_sessions"], d["sessions_crossing_cut"]) == (1, 2, 1)
    with pytest.raises(ValidationError, match="exactly one of"):
        session_split(df)
    with pytest.raises(ValidationError, match=r"lacks column\(s\) \['sid'\]"):
        session_split(df, test_fraction=0.5, session_col="sid")


@PROPS
@given(logs())
def test_last_item_of_session_properties(df):
    split = last_item_of_session(df)
    sizes = df.groupby("session_id").size()
    used = sizes[sizes >= 2]
    # one target per session of length >= 2, the rest of those sessions is history
    assert split.test.session_id.value_counts().reindex(used.index).eq(1).all()
    assert len(split.test) == len(used) and len(split.train) == used.sum() - len(used)
    assert set(split.train.session_id) <= set(used.index)
    # the target is the latest event of its session (ties: the later row)
    last = split.train.groupby("session_id").ts.max()
    assert (split.test.set_index("session_id").ts.reindex(last.index) >= last).all()
    d = split.describe()
    assert (
        d["rows_dropped"] == len(df) - len(split.train) - len(split.test) == sizes[sizes < 2].sum()
    )
    assert d["sessions_too_short"] == (sizes < 2).sum()


def test_last_item_of_session_example():
    df = pd.DataFrame(
        {
            "session_id": [1, 2, 1, 1, 3, 3],
            "item_id": [10, 20, 11, 12, 30, 31],
            "ts": [1, 5, 3, 3, 2, 1],
        }
    )
    split = last_item_of_session(df)
    # session 1: items 10 (t1), 11 (t3), 12 (t3, later row) -> target 12; session 3: target 30
    assert split.test.item_id.tolist() == [12, 30]
    assert split.train.item_id.tolist() == [10, 11, 31]
    assert split.describe()["sessions_too_short"] == 1


# --- filtering test to the known ------------------------------------------------------------------


@PROPS
@given(logs(min_rows=2), st.booleans(), st.booleans())
def test_filter_test_to_known(df, users, items):
    split = stratified_user_split(df, ratio=0.5, seed=1)
    kept = filter_test_to_known(split, users=users, items=items)
    known_u = set(split.train.user_id)
    known_i = set(split.train.item_id)
    bad_u = ~split.test.user_id.isin(known_u)
    bad_i = ~split.test.item_id.isin(known_i)
    drop = (bad_u & users) | (bad_i & items)
    assert kept.test.index.equals(split.test.index[~drop.to_numpy()])
    assert kept.train is split.train
    d = kept.describe()
    assert d["test_rows_dropped"] == drop.sum() == len(split.test) - len(kept.test)
    if users:
        assert d["test_rows_unknown_user"] == bad_u.sum() and d["test_users_unseen"] == 0
    if items:
        assert d["test_rows_unknown_item"] == bad_i.sum() and d["test_items_unseen"] == 0
    assert d["params"]["filter_test_to_known"] == {"users": users, "items": items}


def test_filter_test_to_known_on_movielens_temporal():
    df = movielens()
    split = filter_test_to_known(temporal_split(df, test_fraction=0.2))
    d = split.describe()
    assert (d["train_rows"], d["cut"]) == (79_999, 889_237_269)
    assert d["test_rows"] + d["test_rows_dropped"] == 20_001
    assert d["test_users_unseen"] == 0 and d["test_items_unseen"] == 0
    assert split.test.user_id.isin(split.train.user_id).all()
    with pytest.raises(ValidationError, match="no column 'user_id'"):
        filter_test_to_known(Split(df[["item_id"]], df[["item_id"]], "x"))


def test_split_unpacks_and_describes():
    df = pd.DataFrame({"user_id": [1, 1, 2, 2], "item_id": [1, 2, 1, 3], "ts": [1, 2, 3, 4]})
    train, test = temporal_split(df, at=3)
    assert train.item_id.tolist() == [1, 2] and test.item_id.tolist() == [1, 3]
    d = temporal_split(df, at=3).describe()
    assert d == {
        "name": "temporal_split",
        "params": {"at": 3, "test_fraction": None},
        "train_rows": 2,
        "test_rows": 2,
        "test_fraction": 0.5,
        "train_users": 1,
        "test_users": 1,
        "test_users_unseen": 1,
        "train_items": 2,
        "test_items": 2,
        "test_items_unseen": 1,
        "cut": 3,
    }


# --- labelled rows ------------------------------------------------------------------------


def test_fraction_split_keeps_time_order_and_sizes():
    X = pd.DataFrame({"t": np.arange(10)})
    y = np.arange(10) % 2
    s = fraction_split(X, y, (0.6, 0.2))
    assert list(s.X_train.t) == list(range(6)) and list(s.X_val.t) == [6, 7]
    assert list(s.X_test.t) == [8, 9] and list(s.y_test) == [0, 1]
    assert "train 6 rows (50.00% positive)" in s.sizes()
    with pytest.raises(ValidationError, match="empty part"):
        fraction_split(X.iloc[:2], y[:2], (0.6, 0.2))
    with pytest.raises(ValidationError, match="labels"):
        fraction_split(X, y[:5])


def test_tail_split_validates_on_the_latest_rows_with_both_classes():
    X = pd.DataFrame({"t": np.arange(10)}, index=np.arange(100, 110))
    y = np.array([0, 1] * 5, dtype=float)
    ts = pd.Series(pd.date_range("2024-01-01", periods=10), index=X.index)
    Xtr, ytr, Xv, yv, info = tail_split("task", X, y, ts, 0.2)
    assert list(Xtr.t) == list(range(8)) and list(Xv.t) == [8, 9]
    assert list(Xv.index) == [0, 1]  # fresh index on both parts
    assert info == {"train_until": "2024-01-08 00:00:00", "validation_until": "2024-01-10 00:00:00"}
    one_class_train = np.r_[np.zeros(8), 1.0, 1.0]
    with pytest.raises(DataError, match="training rows .* only label 0"):
        tail_split("task", X, one_class_train, ts, 0.2)
    with pytest.raises(ValidationError, match="validation_fraction"):
        tail_split("task", X, y, ts, 0.01)
