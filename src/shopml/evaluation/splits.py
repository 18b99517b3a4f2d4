"""Every split of shopml, once: interaction logs (:class:`Split`), labelled rows
(:class:`LabelledSplit`, :func:`fraction_split`, :func:`tail_split`).

Interaction logs (train/test splits that never leak the future or cut a session in two): every
function takes a long pandas frame (one row per interaction; columns named by the keyword
arguments ``user_col``, ``item_col``, ``time_col``, ``session_col``) and returns a :class:`Split`.
Rows keep their original index and order on both sides, so ``train`` and ``test`` together are
exactly the input (except where a function documents that it drops rows, and then it counts them
in :meth:`Split.describe`).

Conventions, shared by all functions:

- a time cut puts rows with ``ts < cut`` in train and rows with ``ts >= cut`` in test (ties at the
  cut go to test), so ``max(train.ts) < min(test.ts)``;
- ties in time inside a user or session are broken by the original row order (a later row counts
  as later), so results never depend on the sort algorithm;
- the time column is either numeric (e.g. unix seconds) or datetime64 (naive or tz-aware); a
  ``at=`` cut must be of the same kind (a naive ``at`` on a tz-aware column is read in that zone);
- a split that would leave train or test empty raises :class:`ValidationError` instead of
  returning an evaluation on nothing.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Any, Literal

import numpy as np
import pandas as pd

from shopml.core.errors import DataError, ValidationError

__all__ = [
    "LabelledSplit",
    "Split",
    "fraction_split",
    "filter_test_to_known",
    "last_item_of_session",
    "leave_last_k_out",
    "session_split",
    "stratified_user_split",
    "tail_split",
    "temporal_split",
]


@dataclass(frozen=True, eq=False)
class Split:
    """A train/test pair of interaction frames and how it was made.

    ``name`` is the splitting function, ``params`` its arguments, ``info`` what it measured while
    splitting (the cut time, rows dropped, ...). Unpacks as ``train, test = split``.
    """

    train: pd.DataFrame
    test: pd.DataFrame
    name: str
    params: dict[str, Any] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    user_col: str = "user_id"
    item_col: str = "item_id"

    def __iter__(self) -> Iterator[pd.DataFrame]:
        return iter((self.train, self.test))

    def describe(self) -> dict[str, Any]:
        """Counts of rows, users and items on each side (JSON-ready), with ``params``, ``info``."""
        n_train, n_test = len(self.train), len(self.test)
        out: dict[str, Any] = {
            "name": self.name,
            "params": dict(self.params),
            "train_rows": n_train,
            "test_rows": n_test,
            "test_fraction": n_test / (n_train + n_test) if n_train + n_test else 0.0,
        }
        for label, col in (("users", self.user_col), ("items", self.item_col)):
            if col in self.train.columns and col in self.test.columns:
                seen = pd.Index(self.train[col].unique())
                asked = pd.Index(self.test[col].unique())
                out[f"train_{label}"] = len(seen)
                out[f"test_{label}"] = len(asked)
                out[f"test_{label}_unseen"] = int((~asked.isin(seen)).sum())
        out.update(self.info)
        return out


def temporal_split(
    df: pd.DataFrame,
    at: Any = None,
    test_fraction: float | None = None,
    *,
    test_days: float | None = None,
    time_col: str = "ts",
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> Split:
    """Split the whole log at one time: rows before ``cut`` train, rows at or after it test.

    Give exactly one of ``at`` (a time, or a number for a numeric time column),
    ``test_fraction`` or ``test_days``. With a fraction ``f``, ``n_test = round_half_up(f * n)``
    (at least 1, at most ``n - 1``) and the cut is the time of the ``n_test``-th latest row, so
    rows tied with it also go to test and the test side may hold a little more than ``n_test``
    rows. With ``test_days`` (datetime columns only) the cut is the latest time minus that many
    days: the test period is the last ``test_days`` of the log.
    """
    _require(df, [time_col], "temporal_split")
    _check_time_dtype(df[time_col], time_col, "temporal_split")
    if sum(x is not None for x in (at, test_fraction, test_days)) != 1:
        raise ValidationError(
            "temporal_split needs exactly one of at=, test_fraction= or test_days="
        )
    ts = df[time_col]
    if test_days is not None:
        cut = _cut_days_before_end(ts, test_days, time_col)
    elif at is not None:
        cut = _as_time(at, ts, time_col)
    else:
        cut = _cut_at_fraction(ts, test_fraction)
    is_test = (ts >= cut).to_numpy()
    train, test = df[~is_test], df[is_test]
    _non_empty(train, test, f"temporal_split at {_jsonable_time(cut)}", ts)
    params = {
        "at": _jsonable_time(at) if at is not None else None,
        "test_fraction": test_fraction,
    }
    if test_days is not None:
        params["test_days"] = test_days
    return Split(
        train, test, "temporal_split", params, {"cut": _jsonable_time(cut)}, user_col, item_col
    )


def leave_last_k_out(
    df: pd.DataFrame,
    k: int = 1,
    min_train: int = 1,
    *,
    user_col: str = "user_id",
    item_col: str = "item_id",
    time_col: str = "ts",
) -> Split:
    """Per user, the last ``k`` interactions in time go to test, the rest to train.

    Users with fewer than ``k + min_train`` interactions stay entirely in train (they would
    otherwise be tested with too little history). Ties in time are broken by original row order,
    so every test row of a user is at least as late as all of that user's train rows.
    """
    _require(df, [user_col, time_col], "leave_last_k_out")
    _check_time_dtype(df[time_col], time_col, "leave_last_k_out")
    k = _int_at_least(k, 1, "k")
    min_train = _int_at_least(min_train, 0, "min_train")
    codes = pd.factorize(df[user_col], sort=False)[0]
    order, _, from_end, size = _ranks(codes, _time_key(df[time_col]))
    is_test = np.zeros(len(df), dtype=bool)
    is_test[order] = (from_end < k) & (size >= k + min_train)
    train, test = df[~is_test], df[is_test]
    counts = np.bincount(codes)
    return Split(
        train,
        test,
        "leave_last_k_out",
        {"k": k, "min_train": min_train},
        {"users_train_only": int((counts < k + min_train).sum())},
        user_col,
        item_col,
    )


def stratified_user_split(
    df: pd.DataFrame,
    ratio: float = 0.75,
    seed: int = 42,
    *,
    rounding: Literal["floor", "round"] = "floor",
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> Split:
    """Per user, a random ``ratio`` of the user's interactions to train and the rest to test.

    Follows Microsoft Recommenders' ``python_stratified_split`` (``filter_by="user"``): one
    uniform random number per row from ``np.random.RandomState(seed).rand(n)`` (the stream their
    ``np.random.seed(seed); np.random.rand(n)`` draws, in input row order), rows ranked by it
    within each user (1..n_u), and a row is in train when ``rank / n_u <= ratio``. So a user keeps
    the largest ``k`` with ``k / n_u <= ratio`` in train, i.e. ``floor(ratio * n_u)`` (not
    ``round``): a user with one interaction goes wholly to test. Given the same input order and
    seed, the sets are the same as theirs; output rows keep the input order instead of theirs.

    ``rounding="round"`` keeps instead the ``np.round(ratio * n_u)`` smallest numbers of a user
    (half to even), the rule of shopml's published MovieLens benchmark tables
    (``bench/results/recommend_movielens-100k``), kept so that those numbers reproduce.
    """
    _require(df, [user_col], "stratified_user_split")
    ratio = _fraction(ratio, "ratio")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or not 0 <= seed < 2**32:
        raise ValidationError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    key = np.random.RandomState(int(seed)).rand(len(df))
    codes = pd.factorize(df[user_col], sort=False)[0]
    order, from_start, _, size = _ranks(codes, key)
    in_train = np.zeros(len(df), dtype=bool)
    # rank is 1-based, as theirs; the float division is theirs too, so borderline ratios agree
    if rounding == "floor":
        in_train[order] = (from_start + 1) / size <= ratio
    elif rounding == "round":
        in_train[order] = from_start + 1 <= np.round(ratio * size)
    else:
        raise ValidationError(f"rounding must be 'floor' or 'round', got {rounding!r}")
    train, test = df[in_train], df[~in_train]
    users_no_train = int((np.bincount(codes, weights=in_train) == 0).sum())
    return Split(
        train,
        test,
        "stratified_user_split",
        {"ratio": ratio, "seed": int(seed), "rounding": rounding},
        {"users_test_only": users_no_train},
        user_col,
        item_col,
    )


def session_split(
    df: pd.DataFrame,
    test_fraction: float | None = None,
    at: Any = None,
    *,
    session_col: str = "session_id",
    time_col: str = "ts",
    user_col: str = "user_id",
    item_col: str = "item_id",
) -> Split:
    """Split whole sessions by their start time, so no session is cut in two.

    Sessions starting at or after the cut go to test. With ``test_fraction`` the cut is placed
    over sessions (not rows) as in :func:`temporal_split`. A train session that started before
    the cut may run past it; ``info["sessions_crossing_cut"]`` counts them.
    """
    _require(df, [session_col, time_col], "session_split")
    _check_time_dtype(df[time_col], time_col, "session_split")
    if (at is None) == (test_fraction is None):
        raise ValidationError("session_split needs exactly one of test_fraction= or at=")
    ts = df[time_col]
    by_session = ts.groupby(df[session_col].to_numpy(), sort=False)
    starts = by_session.min()
    if at is not None:
        cut = _as_time(at, ts, time_col)
    else:
        cut = _cut_at_fraction(starts, test_fraction)
    is_test = (by_session.transform("min") >= cut).to_numpy()
    train, test = df[~is_test], df[is_test]
    _non_empty(train, test, f"session_split at {_jsonable_time(cut)}", starts)
    crossing = int(((starts < cut) & (by_session.max() >= cut)).sum())
    return Split(
        train,
        test,
        "session_split",
        {"test_fraction": test_fraction, "at": _jsonable_time(at) if at is not None else None},
        {
            "cut": _jsonable_time(cut),
            "train_sessions": int((starts < cut).sum()),
            "test_sessions": int((starts >= cut).sum()),
            "sessions_crossing_cut": crossing,
        },
        user_col,
        item_col,
    )


def last_item_of_session(
    df: pd.DataFrame,
    *,
    session_col: str = "session_id",
    time_col: str = "ts",
    item_col: str = "item_id",
    user_col: str = "user_id",
) -> Split:
    """Next-item targets: ``train`` = each session but its last event, ``test`` = that last event.

    Only sessions with at least two events are used (a one-event session has no history to
    predict from); their rows are dropped and counted in ``info``. Ties in time are broken by
    original row order. ``test`` has one row per used session.
    """
    _require(df, [session_col, time_col, item_col], "last_item_of_session")
    _check_time_dtype(df[time_col], time_col, "last_item_of_session")
    codes = pd.factorize(df[session_col], sort=False)[0]
    order, _, from_end, size = _ranks(codes, _time_key(df[time_col]))
    is_target = np.zeros(len(df), dtype=bool)
    is_history = np.zeros(len(df), dtype=bool)
    is_target[order] = (size >= 2) & (from_end == 0)
    is_history[order] = (size >= 2) & (from_end > 0)
    sizes = np.bincount(codes)
    dropped = ~(is_target | is_history)
    return Split(
        df[is_history],
        df[is_target],
        "last_item_of_session",
        {},
        {
            "sessions_used": int((sizes >= 2).sum()),
            "sessions_too_short": int((sizes < 2).sum()),
            "rows_dropped": int(dropped.sum()),
        },
        user_col,
        item_col,
    )


def filter_test_to_known(split: Split, users: bool = True, items: bool = True) -> Split:
    """Drop test rows whose user (and/or item) never occurs in train; count them in ``info``.

    For models that cannot score the unseen (most collaborative filters). ``info`` gains
    ``test_rows_dropped`` and the rows with an unknown user / item (a row can be both).
    """
    train, test = split.train, split.test
    keep = np.ones(len(test), dtype=bool)
    info = dict(split.info)
    for flag, col, label in ((users, split.user_col, "user"), (items, split.item_col, "item")):
        if not flag:
            continue
        for side, frame in (("train", train), ("test", test)):
            if col not in frame.columns:
                raise ValidationError(
                    f"filter_test_to_known: {side} has no column {col!r} for {label}s; "
                    f"columns are {list(frame.columns)}"
                )
        unknown = ~test[col].isin(pd.Index(train[col].unique())).to_numpy()
        info[f"test_rows_unknown_{label}"] = int(unknown.sum())
        keep &= ~unknown
    info["test_rows_dropped"] = int((~keep).sum()) + int(split.info.get("test_rows_dropped", 0))
    params = {**split.params, "filter_test_to_known": {"users": users, "items": items}}
    return replace(split, test=test[keep], params=params, info=info)


# --- labelled rows (features and 0/1 labels) -----------------------------------------------


@dataclass
class LabelledSplit:
    """Feature frames and 0/1 labels of the training, validation and test parts, in time order.

    Validation is carved from the training period (early stopping, calibration, thresholds);
    the test part is only measured on.
    """

    X_train: pd.DataFrame
    y_train: np.ndarray
    X_val: pd.DataFrame
    y_val: np.ndarray
    X_test: pd.DataFrame
    y_test: np.ndarray

    def sizes(self) -> str:
        """The parts' sizes and positive rates, as one line of text."""
        parts = [("train", self.y_train), ("validation", self.y_val), ("test", self.y_test)]
        return ", ".join(f"{n} {len(y)} rows ({100 * np.mean(y):.2f}% positive)" for n, y in parts)


def fraction_split(
    X: pd.DataFrame, y: np.ndarray, fractions: tuple[float, float] = (0.6, 0.2)
) -> LabelledSplit:
    """Rows already in time order: the first ``fractions[0]`` train, the next ``fractions[1]``
    validate, the rest test (``int(n * f)`` cut points)."""
    n = len(X)
    if len(y) != n:
        raise ValidationError(f"fraction_split: {n} feature rows but {len(y)} labels")
    a, b = int(n * fractions[0]), int(n * (fractions[0] + fractions[1]))
    if not 0 < a < b < n:
        raise ValidationError(
            f"fraction_split: fractions {fractions} leave an empty part of {n} rows"
        )
    return LabelledSplit(X.iloc[:a], y[:a], X.iloc[a:b], y[a:b], X.iloc[b:], y[b:])


def tail_split(
    task: str, X: pd.DataFrame, y: np.ndarray, ts: pd.Series, fraction: float
) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame, np.ndarray, dict[str, Any]]:
    """Rows in time order: the last ``fraction`` (``round(n * fraction)`` rows) validates, the
    rest trains; both parts need both classes. Returns ``X_train, y_train, X_val, y_val, info``
    (``info``: the last time of each part, as text); ``task`` names the data in errors."""
    n_val = int(round(len(y) * float(fraction)))
    if n_val < 1 or n_val >= len(y):
        raise ValidationError(
            f"validation_fraction {fraction} leaves no training or validation rows ({len(y)} rows)"
        )
    cut = len(y) - n_val
    for part, lab in (("training", y[:cut]), ("validation", y[cut:])):
        if lab.min() == lab.max():
            raise DataError(
                f"{task}: the {part} rows ({len(lab)}, split by time at validation_fraction "
                f"{fraction}) hold only label {int(lab[0])}; the model needs positives and "
                "negatives in both"
            )
    ts = ts.reset_index(drop=True)
    info = {"train_until": str(ts.iloc[cut - 1]), "validation_until": str(ts.iloc[-1])}
    return (
        X.iloc[:cut].reset_index(drop=True),
        y[:cut],
        X.iloc[cut:].reset_index(drop=True),
        y[cut:],
        info,
    )


# --- helpers -----------------------------------------------------------------------------------


def _require(df: Any, cols: list[str], fn: str) -> None:
    """Check that ``df`` is a non-empty frame with ``cols`` and no missing values in them."""
    if not isinstance(df, pd.DataFrame):
        raise ValidationError(f"{fn} expects a pandas DataFrame, got {type(df).__name__}")
    missing = [c for c in cols if c not in df.columns]
    if missing:
        raise ValidationError(f"{fn}: frame lacks column(s) {missing}; has {list(df.columns)}")
    if df.empty:
        raise ValidationError(f"{fn}: the frame has no rows")
    nulls = [c for c in cols if df[c].isna().any()]
    if nulls:
        raise ValidationError(f"{fn}: column(s) {nulls} have missing values")


def _check_time_dtype(ts: pd.Series, time_col: str, fn: str) -> None:
    """Times must be numbers or datetimes: text would sort as text ("10" < "9")."""
    if pd.api.types.is_datetime64_any_dtype(ts) or (
        pd.api.types.is_numeric_dtype(ts) and not pd.api.types.is_bool_dtype(ts)
    ):
        return
    raise ValidationError(
        f"{fn}: column {time_col!r} has dtype {ts.dtype}; expected numbers or datetimes "
        "(convert with pd.to_datetime)"
    )


def _time_key(ts: pd.Series) -> np.ndarray:
    """Times as a sortable numpy array (datetimes as int64 since the epoch, UTC for tz-aware)."""
    if pd.api.types.is_datetime64_any_dtype(ts):
        return ts.astype("int64").to_numpy()
    return ts.to_numpy()


def _ranks(codes: np.ndarray, key: np.ndarray) -> tuple[np.ndarray, ...]:
    """Order rows by group then ``key`` then original position; rank them inside their group.

    Returns ``order`` (row positions in that order) and, aligned with it, the 0-based position
    from the group's start, from its end, and the group's size. ``np.lexsort`` is stable, so
    ties in ``key`` keep the original row order.
    """
    order = np.lexsort((key, codes))
    grouped = codes[order]
    n = len(order)
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    lengths = np.diff(np.r_[starts, n])
    group_start = np.repeat(starts, lengths)
    size = np.repeat(lengths, lengths)
    from_start = np.arange(n) - group_start
    return order, from_start, size - 1 - from_start, size


def _fraction(value: Any, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
        raise ValidationError(f"{name} must be a number in (0, 1), got {value!r}")
    if not 0 < float(value) < 1:
        raise ValidationError(f"{name} must be in (0, 1), got {value!r}")
    return float(value)


def _int_at_least(value: Any, low: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        raise ValidationError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _cut_at_fraction(ts: pd.Series, test_fraction: Any) -> Any:
    """The time of the ``round_half_up(f * n)``-th latest value (clamped to 1..n-1 values)."""
    f = _fraction(test_fraction, "test_fraction")
    n = len(ts)
    n_test = min(max(math.floor(f * n + 0.5), 1), max(n - 1, 1))
    return ts.sort_values(kind="mergesort").iloc[n - n_test]


def _cut_days_before_end(ts: pd.Series, test_days: Any, time_col: str) -> Any:
    """The latest time minus ``test_days`` days (datetime columns only)."""
    if not pd.api.types.is_datetime64_any_dtype(ts):
        raise ValidationError(
            f"test_days needs a datetime column; {time_col!r} has dtype {ts.dtype} (use at=)"
        )
    if isinstance(test_days, bool) or not isinstance(test_days, int | float | np.number):
        raise ValidationError(f"test_days must be a positive number, got {test_days!r}")
    if not test_days > 0:
        raise ValidationError(f"test_days must be positive, got {test_days!r}")
    return ts.max() - pd.Timedelta(days=float(test_days))


def _as_time(at: Any, ts: pd.Series, time_col: str) -> Any:
    """``at`` as a value comparable with the time column (same kind, same time zone)."""
    if pd.api.types.is_datetime64_any_dtype(ts):
        if isinstance(at, bool | int | float | np.number):
            raise ValidationError(
                f"at={at!r} is a number but column {time_col!r} holds datetimes; "
                "give a date/time (str, datetime, Timestamp)"
            )
        try:
            cut = pd.Timestamp(at)
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"at={at!r} is not a date/time: {exc}") from exc
        tz = ts.dt.tz
        if tz is not None and cut.tzinfo is None:
            cut = cut.tz_localize(tz)
        elif tz is None and cut.tzinfo is not None:
            # shopml times are UTC; a naive column is taken to be UTC
            cut = cut.tz_convert("UTC").tz_localize(None)
        return cut
    if pd.api.types.is_numeric_dtype(ts) and not pd.api.types.is_bool_dtype(ts):
        if isinstance(at, bool) or not isinstance(at, int | float | np.number):
            raise ValidationError(
                f"at={at!r} is not a number but column {time_col!r} is numeric ({ts.dtype})"
            )
        return at
    _check_time_dtype(ts, time_col, "split")
    return at


def _non_empty(train: pd.DataFrame, test: pd.DataFrame, what: str, ts: pd.Series) -> None:
    if len(train) and len(test):
        return
    side = "train" if not len(train) else "test"
    raise ValidationError(
        f"{what} leaves {side} empty; times span {_jsonable_time(ts.min())} .. "
        f"{_jsonable_time(ts.max())}"
    )


def _jsonable_time(value: Any) -> Any:
    """A time as ISO text, a number as a plain Python number (for describe())."""
    if isinstance(value, pd.Timestamp | dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, np.generic):
        return value.item()
    return value
