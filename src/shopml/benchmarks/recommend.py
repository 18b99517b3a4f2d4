"""The recommendation benchmark: every shopml recommender beside the `implicit` peers, one split.

``shopml bench recommend --dataset NAME`` runs :func:`run`. Protocols:

- ``movielens-100k`` — the Microsoft Recommenders protocol: per-user stratified random 75/25
  split (seed 42), all ratings as implicit positives, top-10 over all items with the user's
  training items removed, binary relevance.
- ``online-retail`` — completed purchases of known customers; test = the last 30 days, users
  active in both periods; variant ``novel`` (items the customer never bought before, seen items
  removed) and variant ``repeat`` (every purchased item counts, nothing removed).
- ``diginetica`` — session-based next-item prediction on the item views, HR@20 and MRR@20
  (:mod:`shopml.benchmarks.recommend_session`).
- ``--workspace W`` — the same temporal protocol on any ingested workspace's events (or, with
  no events, its completed orders), so a new shop is benchmarked without new code.

Every model, peers included, has its hyper-parameters chosen on a validation split carved from
the training data by the same protocol (the same grid budget per model: at most
:data:`GRID_BUDGET` configurations), is refitted on the whole training data and evaluated once
on the test data. Metrics are per-user means with bootstrap confidence intervals (``extra.ci``);
the best shopml model is compared with the best peer by paired tests (``extra.paired``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from threadpoolctl import threadpool_limits

from shopml.benchmarks.runner import BenchResult, Row, suite, timed
from shopml.core.errors import DataError, ValidationError
from shopml.core.vocab import Vocab
from shopml.evaluation.ranking import RankingReport, ranking_metrics
from shopml.evaluation.stats import paired_test
from shopml.recommend.interactions import Interactions

log = logging.getLogger(__name__)

K = 10
GRID_BUDGET = 6  # configurations tried per model on the validation split
THREADS = 2
REPORTED = ("ndcg", "map", "precision", "recall", "mrr", "hit_rate", "map_min", "pop_bias")


# ---------------------------------------------------------------------------- splits
@dataclass
class Split:
    """Training interactions and held-out relevant items for the users to evaluate.

    ``relevant`` has one row per training user and ``n_items + n_test_only`` columns: items that
    appear only in the test period get columns past the catalogue, so they count as relevant
    but can never be recommended (full-ranking honesty).
    """

    name: str
    train: Interactions
    relevant: sp.csr_matrix
    users: np.ndarray  # dense training-user indices evaluated (those with relevant items)
    exclude_seen: bool
    protocol: str
    stats: dict[str, Any] = field(default_factory=dict)
    variant: str | None = None  # e.g. "novel" / "repeat", appended to the model names
    items: pd.DataFrame | None = (
        None  # catalogue (item_id, title, category, price) for content models
    )


def stratified_user_split(
    df: pd.DataFrame, ratio: float = 0.75, seed: int = 42, user_col: str = "user_id"
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per-user random split, as Microsoft Recommenders' ``python_stratified_split``.

    Each row gets a uniform number from ``np.random.RandomState(seed)`` in frame order; within a
    user the rows with the ``round(ratio * count)`` smallest numbers go to train.
    """
    if not 0 < ratio < 1:
        raise ValidationError(f"ratio must be in (0, 1), got {ratio}")
    rnd = np.random.RandomState(seed).rand(len(df))
    codes = pd.factorize(df[user_col])[0]
    order = np.lexsort((rnd, codes))
    counts = np.bincount(codes)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(df), dtype=np.int64)
    rank[order] = np.arange(len(df)) - starts[codes[order]] + 1
    in_train = rank <= np.round(ratio * counts[codes])
    return df[in_train].reset_index(drop=True), df[~in_train].reset_index(drop=True)


def temporal_split(df: pd.DataFrame, test_days: float = 30.0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows of the last ``test_days`` before the latest timestamp are the test period."""
    cutoff = df["ts"].max() - pd.Timedelta(days=test_days)
    return df[df["ts"] < cutoff].reset_index(drop=True), df[df["ts"] >= cutoff].reset_index(
        drop=True
    )


def make_split(
    name: str,
    train_df: pd.DataFrame,
    test_df: pd.DataFrame,
    exclude_seen: bool,
    protocol: str,
    novel_only: bool = False,
    variant: str | None = None,
    items: pd.DataFrame | None = None,
) -> Split:
    """Training interactions (binary) and the relevant matrix of the users present in both."""
    train_df = train_df[["user_id", "item_id", "ts"]]
    train = Interactions.from_frame(train_df)
    train.matrix.data[:] = 1.0  # implicit feedback: an interaction is a positive, once
    test = test_df[["user_id", "item_id"]].drop_duplicates()
    u = train.users.encode(test["user_id"], strict=False).astype(np.int64)
    test, u = test[u >= 0], u[u >= 0]
    i = train.items.encode(test["item_id"], strict=False).astype(np.int64)
    extra = Vocab(test.loc[i < 0, "item_id"])
    i = np.where(i >= 0, i, train.n_items + extra.encode(test["item_id"], strict=False))
    if novel_only:  # drop test pairs the user already had in training
        known = i < train.n_items
        seen = np.zeros(len(i), dtype=bool)
        seen[known] = np.asarray(train.matrix[u[known], i[known]]).ravel() > 0
        u, i = u[~seen], i[~seen]
    relevant = sp.csr_matrix(
        (np.ones(len(u), np.float32), (u, i)), shape=(train.n_users, train.n_items + len(extra))
    )
    relevant.sum_duplicates()
    users = np.flatnonzero(np.diff(relevant.indptr) > 0)
    stats = {
        "train_interactions": int(train.matrix.nnz),
        "train_users": train.n_users,
        "train_items": train.n_items,
        "test_users": len(users),
        "test_pairs": int(relevant.nnz),
        "test_only_items": len(extra),
    }
    return Split(name, train, relevant, users, exclude_seen, protocol, stats, variant, items)


# ---------------------------------------------------------------------------- data
def _workspace_for(dataset: str, data_dir: str | Path | None):
    from shopml.data.loaders import get_loader
    from shopml.data.workspace import Workspace

    loader = get_loader(dataset)
    path = Path(data_dir) / loader.folder if data_dir is not None else None
    ws = Workspace(":memory:")
    ws.ingest_dataset(dataset, path=path)
    return ws


ITEM_COLUMNS = ["item_id", "title", "category", "price"]


def movielens_frame(data_dir: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """All ratings of MovieLens 100K as ``user_id, item_id, ts`` (file order), and the movies."""
    ws = _workspace_for("movielens-100k", data_dir)
    df = ws.df("events", columns=["user_id", "item_id", "ts"], where="event_type = 'rating'")
    items = ws.df("items", columns=ITEM_COLUMNS)
    ws.close()
    return df, items


def purchases_frame(ws) -> pd.DataFrame:
    """Completed order lines of known customers as ``user_id, item_id, ts``."""
    return ws.df(
        "orders",
        columns=["user_id", "item_id", "ts"],
        where="status = 'completed' AND user_id IS NOT NULL",
    )


def movielens_splits(
    data_dir: str | Path | None = None, max_users: int | None = None
) -> tuple[Split, Split]:
    """(validation split carved from train, test split) under the Microsoft Recommenders protocol."""
    df, items = movielens_frame(data_dir)
    if max_users is not None:
        df = df[df["user_id"].isin(pd.unique(df["user_id"])[:max_users])]
    protocol = (
        "Microsoft Recommenders: per-user stratified random 75/25 split (seed 42), all ratings "
        "as implicit positives, top-10 over all items, training items removed, binary relevance; "
        "hyper-parameters chosen on a 75/25 stratified split of train (seed 43)"
    )
    train, test = stratified_user_split(df, 0.75, seed=42)
    sub, val = stratified_user_split(train, 0.75, seed=43)
    return (
        make_split("validation", sub, val, True, protocol, items=items),
        make_split("test", train, test, True, protocol, items=items),
    )


def temporal_splits(
    df: pd.DataFrame, variant: str, test_days: float = 30.0, items: pd.DataFrame | None = None
) -> tuple[Split, Split]:
    """(validation, test) temporal splits: test = last ``test_days``, validation = the
    ``test_days`` before that; variant ``novel`` or ``repeat``."""
    if variant not in ("novel", "repeat"):
        raise ValidationError(f"variant must be 'novel' or 'repeat', got {variant!r}")
    novel = variant == "novel"
    protocol = (
        f"temporal: test = last {test_days:g} days, users active in both periods, "
        + (
            "novel items only (already bought items removed)"
            if novel
            else "repeat purchases allowed (nothing removed)"
        )
        + f"; hyper-parameters chosen on the {test_days:g} days before the test period"
    )
    train, test = temporal_split(df, test_days)
    sub, val = temporal_split(train, test_days)
    if train.empty or test.empty or sub.empty or val.empty:
        raise DataError(f"not enough history for a temporal split with {test_days:g}-day periods")
    return (
        make_split(f"validation-{variant}", sub, val, novel, protocol, novel, variant, items),
        make_split(f"test-{variant}", train, test, novel, protocol, novel, variant, items),
    )


# ---------------------------------------------------------------------------- models
@dataclass
class ModelSpec:
    """A model in the benchmark: how to build it from parameters and what to try."""

    name: str
    build: Callable[..., Any]
    grid: list[dict[str, Any]]
    peer: bool = False
    heavy: bool = False  # left out of quick runs unless named

    def __post_init__(self) -> None:
        if not 1 <= len(self.grid) <= GRID_BUDGET:
            raise ValidationError(
                f"{self.name}: grid of {len(self.grid)} exceeds the budget of {GRID_BUDGET}"
            )


class ImplicitPeer:
    """An `implicit` model behind the two methods the benchmark calls."""

    def __init__(self, kind: str, **params: Any) -> None:
        self.kind = kind
        self.params = params

    def fit(self, data: Interactions) -> ImplicitPeer:
        if self.kind == "als":
            from implicit.cpu.als import AlternatingLeastSquares as Model
        elif self.kind == "bpr":
            from implicit.cpu.bpr import BayesianPersonalizedRanking as Model
        else:
            raise ValidationError(f"unknown implicit model {self.kind!r}")
        self.train_ = data.matrix.tocsr().astype(np.float32)
        # implicit parallelises over users itself and asks for a single-threaded BLAS
        with threadpool_limits(1, "blas"):
            self.model_ = Model(num_threads=THREADS, random_state=0, **self.params)
            self.model_.fit(self.train_, show_progress=False)
        return self

    def top_k_indices(self, user_idx: np.ndarray, k: int, exclude_seen: bool = True) -> np.ndarray:
        ids, _ = self.model_.recommend(
            np.asarray(user_idx),
            self.train_[user_idx],
            N=k,
            filter_already_liked_items=exclude_seen,
        )
        return np.asarray(ids, dtype=np.int64)


def _grid(**axes: Iterable[Any]) -> list[dict[str, Any]]:
    """Cartesian product of parameter values."""
    out: list[dict[str, Any]] = [{}]
    for key, values in axes.items():
        out = [{**o, key: v} for o in out for v in values]
    return out


def model_specs() -> dict[str, ModelSpec]:
    """Every benchmarked model: shopml's own (torch ones where importable) and the peers."""
    from shopml.recommend.als import ALS
    from shopml.recommend.ease import EASE
    from shopml.recommend.knn import TIFUKNN, ItemKNN, UserKNN
    from shopml.recommend.popularity import Popularity
    from shopml.recommend.time_decay import TimeDecayEASE

    # ALS grids: the same confidences c on observed pairs for both implementations
    # (shopml: c = 1 + alpha, implicit: c = alpha on binary data)
    conf, regs = [2.0, 5.0], [10.0, 20.0, 40.0]
    bpr_grid = [
        {"factors": f, "learning_rate": lr, "regularization": 0.001, "iterations": it}
        for f in (32, 64, 128)
        for lr, it in ((0.005, 100), (0.01, 50))
    ]
    specs = [
        ModelSpec("popularity", Popularity, [{}]),
        ModelSpec("itemknn", ItemKNN, _grid(k_neighbours=[100, 400, 1600], shrinkage=[0.0, 10.0])),
        ModelSpec("userknn", UserKNN, _grid(k_neighbours=[50, 100, 200], shrinkage=[0.0, 10.0])),
        ModelSpec(
            "als",
            ALS,
            _grid(
                factors=[64],
                alpha=[c - 1 for c in conf],
                regularization=regs,
                iterations=[15],
                num_threads=[THREADS],
            ),
        ),
        ModelSpec("ease", EASE, _grid(l2=[50.0, 100.0, 200.0, 400.0, 800.0, 1600.0])),
        ModelSpec(
            "ease-decay",
            TimeDecayEASE,
            _grid(half_life_days=[15.0, 30.0, 60.0], l2=[100.0, 200.0]),
        ),
        ModelSpec(
            "tifu-knn",
            TIFUKNN,
            _grid(k_neighbours=[100], self_weight=[0.5, 0.8], decay=[0.9, 0.98, 1.0]),
        ),
        ModelSpec(
            "implicit-als",
            lambda **p: ImplicitPeer("als", **p),
            _grid(factors=[64], alpha=conf, regularization=regs, iterations=[15]),
            peer=True,
        ),
        ModelSpec("implicit-bpr", lambda **p: ImplicitPeer("bpr", **p), bpr_grid, peer=True),
    ]
    specs += _torch_specs()
    return {s.name: s for s in specs}


def _torch_specs() -> list[ModelSpec]:
    """The torch recommenders, each included only if its module imports."""
    import importlib

    candidates = [
        (
            "bpr",
            "shopml.recommend.bpr",
            "BPR",
            [{}],
        ),
        ("neumf", "shopml.recommend.neumf", "NeuMF", [{}]),
        ("sasrec", "shopml.recommend.sasrec", "SASRec", [{}]),
        ("two-tower", "shopml.recommend.two_tower", "TwoTower", [{}]),
    ]
    out = []
    for name, module, cls, grid in candidates:
        try:
            klass = getattr(importlib.import_module(module), cls)
        except (ImportError, AttributeError) as exc:
            log.info("skipping %s: %s", name, exc)
            continue
        out.append(ModelSpec(name, klass, grid, heavy=True))
    return out


# ---------------------------------------------------------------------------- evaluation
def evaluate(
    model: Any, split: Split, k: int = K, item_popularity: np.ndarray | None = None
) -> tuple[RankingReport, float]:
    """Top-``k`` of the split's users from a fitted model, scored; returns (report, seconds)."""
    t0 = time.perf_counter()
    top = model.top_k_indices(split.users, k, exclude_seen=split.exclude_seen)
    seconds = time.perf_counter() - t0
    report = ranking_metrics(
        top,
        split.relevant[split.users],
        ks=k,
        n_items=split.train.n_items,
        item_popularity=item_popularity,
    )
    return report, seconds


def _fit(spec: ModelSpec, params: dict[str, Any], split: Split) -> Any:
    model = spec.build(**params)
    if isinstance(model, ImplicitPeer):
        return model.fit(split.train)
    return model.fit(split.train, items=split.items)


def tune(
    spec: ModelSpec, validation: Split, k: int = K, metric: str = "ndcg"
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Best parameters of ``spec`` on the validation split by ``metric@k``; all trials."""
    trials = []
    for params in spec.grid:
        t0 = time.perf_counter()
        model = _fit(spec, params, validation)
        report, _ = evaluate(model, validation, k)
        score = report.means()[f"{metric}@{k}"]
        trials.append(
            {
                "params": params,
                f"val_{metric}@{k}": round(score, 5),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        log.info("  %s %s: val %s@%d = %.4f", spec.name, params, metric, k, score)
    best = max(trials, key=lambda t: t[f"val_{metric}@{k}"])
    return best["params"], trials


def bench_split(
    specs: list[ModelSpec],
    validation: Split,
    test: Split,
    tune_params: bool = True,
    n_boot: int = 1000,
    k: int = K,
) -> tuple[list[Row], dict[str, RankingReport]]:
    """Tune, refit and evaluate every model on one (validation, test) pair."""
    pop = np.bincount(test.train.matrix.indices, minlength=test.train.n_items) / test.train.n_users
    rows, reports = [], {}
    for spec in specs:
        log.info("%s on %s", spec.name, test.name)
        if tune_params and len(spec.grid) > 1:
            params, trials = tune(spec, validation, k)
        else:
            params, trials = spec.grid[0], []
        times: dict[str, float] = {}
        with timed(times, "fit"):
            model = _fit(spec, params, test)
        report, predict_s = evaluate(model, test, k, item_popularity=pop)
        means = report.means()
        metrics = {
            m: round(v, 5)
            for m, v in means.items()
            if m.split("@")[0] in REPORTED or m.startswith("coverage")
        }
        ci = {
            m: [round(c.low, 5), round(c.high, 5)]
            for m, c in report.confidence_intervals(n=n_boot, seed=0).items()
        }
        rows.append(
            Row(
                model=spec.name if test.variant is None else f"{spec.name} ({test.variant})",
                metrics=metrics,
                peer=spec.peer,
                fit_seconds=round(times["fit"], 3),
                predict_seconds=round(predict_s, 3),
                params=params,
                extra={"ci": ci, "users": report.n_users, "tuning": trials},
            )
        )
        reports[spec.name] = report
    _paired(rows, reports, specs, k)
    return rows, reports


def _paired(
    rows: list[Row], reports: dict[str, RankingReport], specs: list[ModelSpec], k: int
) -> None:
    """Best shopml model versus every peer on per-user NDCG@k (same users, same order)."""
    key = f"ndcg@{k}"
    ours = [s.name for s in specs if not s.peer]
    peers = [s.name for s in specs if s.peer]
    if not ours or not peers:
        return
    best = max(ours, key=lambda n: reports[n].means()[key])
    row = rows[[s.name for s in specs].index(best)]
    row.extra["paired"] = {
        f"{key} vs {p}": paired_test(
            reports[best].per_user[key], reports[p].per_user[key], n=1000, seed=0
        ).as_dict()
        for p in peers
    }


def als_speed(
    data: Interactions, factors: int = 64, iterations: int = 15, repeats: int = 3
) -> dict[str, float]:
    """Median fit seconds of shopml ALS and implicit ALS at the same factors, iterations and
    CG steps (3), both on :data:`THREADS` threads: wall clock, and CPU time of the process
    (steadier on a shared machine, where the wall clock also measures the neighbours)."""
    from implicit.cpu.als import AlternatingLeastSquares

    from shopml.recommend.als import ALS

    X = data.matrix.tocsr().astype(np.float32)
    wall: dict[str, list[float]] = {"shopml": [], "implicit": []}
    cpu: dict[str, list[float]] = {"shopml": [], "implicit": []}

    def fit_ours(r: int) -> None:
        ALS(
            factors=factors,
            iterations=iterations,
            cg_steps=3,
            regularization=0.05,
            seed=r,
            num_threads=THREADS,
        ).fit(data)

    def fit_theirs(r: int) -> None:
        with threadpool_limits(1, "blas"):
            AlternatingLeastSquares(
                factors=factors,
                iterations=iterations,
                regularization=0.05,
                num_threads=THREADS,
                random_state=r,
            ).fit(X, show_progress=False)

    # warm-up: imports, thread pools, first touch of memory
    fit_ours(0)
    fit_theirs(0)
    for r in range(repeats):  # interleaved, so a busy moment of the machine hits both
        for name, fit in (("shopml", fit_ours), ("implicit", fit_theirs)):
            t0, c0 = time.perf_counter(), time.process_time()
            fit(r)
            wall[name].append(time.perf_counter() - t0)
            cpu[name].append(time.process_time() - c0)
    o, t = float(np.median(wall["shopml"])), float(np.median(wall["implicit"]))
    oc, tc = float(np.median(cpu["shopml"])), float(np.median(cpu["implicit"]))
    return {
        "shopml_als_s": round(o, 3),
        "implicit_als_s": round(t, 3),
        "ratio": round(o / t, 2),
        "shopml_als_cpu_s": round(oc, 3),
        "implicit_als_cpu_s": round(tc, 3),
        "cpu_ratio": round(oc / tc, 2),
    }


def _speed_note(speed: dict[str, float]) -> str:
    return (
        f"ALS fit, factors 64, 15 iterations, 3 CG steps, {THREADS} threads, median of 3: "
        f"shopml {speed['shopml_als_s']} s, implicit {speed['implicit_als_s']} s, ratio "
        f"{speed['ratio']}; CPU time shopml {speed['shopml_als_cpu_s']} s, implicit "
        f"{speed['implicit_als_cpu_s']} s, ratio {speed['cpu_ratio']}"
    )


def _run_als_speed(data_dir) -> BenchResult:
    """``task='als-speed'``: only the ALS fit timing, on MovieLens-100k's training split."""
    _, test = movielens_splits(data_dir)
    speed = als_speed(test.train)
    result = BenchResult(
        "recommend", "movielens-100k", "ALS fit time on the training split of the Microsoft "
        "Recommenders protocol (74,992 ratings as implicit positives)"
    )
    for name, peer in (("als", False), ("implicit-als", True)):
        key = "shopml" if not peer else "implicit"
        result.rows.append(
            Row(
                model=name,
                metrics={"fit_cpu_seconds": speed[f"{key}_als_cpu_s"]},
                peer=peer,
                fit_seconds=speed[f"{key}_als_s"],
                params={"factors": 64, "iterations": 15, "cg_steps": 3, "threads": THREADS},
            )
        )
    result.notes.append(_speed_note(speed))
    return result


# ---------------------------------------------------------------------------- the suite
def _select(models: list[str] | None, quick: bool) -> list[ModelSpec]:
    specs = model_specs()
    if models is None:
        return [s for s in specs.values() if not (quick and s.heavy)]
    unknown = [m for m in models if m not in specs]
    if unknown:
        raise ValidationError(f"unknown model(s) {unknown}; available: {sorted(specs)}")
    return [specs[m] for m in models]


@suite("recommend")
def run(
    dataset: str | None = None,
    data_dir: str | Path | None = None,
    workspace: str | Path | None = None,
    models: list[str] | None = None,
    quick: bool = False,
    out: str | Path | None = None,
    max_users: int | None = None,
    n_boot: int = 1000,
    task: str | None = None,
) -> BenchResult:
    """Run the recommendation benchmark on a named dataset or an ingested workspace.

    ``task='als-speed'`` (movielens-100k) times only the ALS fits against implicit's.
    ``quick`` skips tuning (each model's first configuration), the heavy torch models unless
    named in ``models``, and keeps 300 users (movielens) — a smoke test, not for reporting.
    ``out`` writes the JSON and Markdown.
    """
    if (dataset is None) == (workspace is None):
        raise ValidationError("give exactly one of dataset or workspace")
    if task is not None:
        if task != "als-speed" or dataset != "movielens-100k":
            raise ValidationError(
                f"unknown recommend task {task!r} for {dataset or workspace}; have 'als-speed' "
                "(movielens-100k)"
            )
        threads = _limit_threads(THREADS)
        try:
            result = _run_als_speed(data_dir)
        finally:
            threads.restore()
        if out is not None:
            result.write(out)
        return result
    specs = _select(models, quick) if dataset != "diginetica" else []
    if quick:
        max_users = max_users or 300
        n_boot = min(n_boot, 200)
    threads = _limit_threads(THREADS)
    try:
        if workspace is not None:
            result = _run_workspace(Path(workspace), specs, quick, n_boot)
        elif dataset == "movielens-100k":
            result = _run_movielens(data_dir, specs, quick, max_users, n_boot)
        elif dataset == "online-retail":
            result = _run_online_retail(data_dir, specs, quick, n_boot)
        elif dataset == "diginetica":
            from shopml.benchmarks.recommend_session import run_diginetica

            result = run_diginetica(data_dir, models, quick, n_boot)
        else:
            raise ValidationError(
                f"no recommend benchmark for dataset {dataset!r}; have 'movielens-100k', "
                "'online-retail', 'diginetica'"
            )
    finally:
        threads.restore()
    if quick:
        result.notes.append(
            "quick run: no tuning, subset of users — a smoke test, not for reporting"
        )
    chosen = {s.name for s in specs}
    left_out = [n for n, s in model_specs().items() if s.heavy and n not in chosen]
    if left_out and dataset != "diginetica":
        result.notes.append(
            f"not in this run: {', '.join(left_out)} (torch models, tens of minutes each here "
            "on 2 shared cores); pass models=None to include them"
        )
    if out is not None:
        result.write(out)
    return result


def _run_movielens(data_dir, specs, quick, max_users, n_boot) -> BenchResult:
    validation, test = movielens_splits(data_dir, max_users=max_users)
    result = BenchResult("recommend", "movielens-100k", test.protocol)
    rows, _ = bench_split(specs, validation, test, tune_params=not quick, n_boot=n_boot)
    result.rows += rows
    result.notes.append(f"split: {test.stats}")
    result.notes.append(
        "map@10 divides by the number of relevant items (Microsoft Recommenders' `map`, their "
        "published table's MAP); map_min@10 divides by min(10, relevant) (their `map_at_k` since 1.2)"
    )
    result.notes.append(
        "published (Microsoft Recommenders README, same protocol): NDCG@10 BiVAE 0.475, BPR 0.442, "
        "LightGCN 0.420, NCF 0.396, SAR 0.382; MAP@10 BiVAE 0.146, BPR 0.132"
    )
    if any(s.name == "als" for s in specs) and not quick:
        result.notes.append(_speed_note(als_speed(test.train)))
    return result


def _run_online_retail(data_dir, specs, quick, n_boot) -> BenchResult:
    ws = _workspace_for("online-retail", data_dir)
    df = purchases_frame(ws)
    items = ws.df("items", columns=ITEM_COLUMNS)
    ws.close()
    return _run_temporal(df, items, "online-retail", specs, quick, n_boot)


def _run_workspace(path: Path, specs, quick, n_boot) -> BenchResult:
    from shopml.data.workspace import Workspace

    if not path.exists():
        raise DataError(f"workspace {path} does not exist")
    ws = Workspace(path, read_only=True)
    try:
        df = ws.df(
            "events",
            columns=["user_id", "item_id", "ts"],
            where="user_id IS NOT NULL AND item_id IS NOT NULL",
        )
        source = "events"
        if df.empty:
            df = purchases_frame(ws)
            source = "completed orders"
        items = ws.df("items", columns=ITEM_COLUMNS)
    finally:
        ws.close()
    if df.empty:
        raise DataError(f"workspace {path} has no events and no completed orders of known users")
    result = _run_temporal(df, items if len(items) else None, path.stem, specs, quick, n_boot)
    result.notes.append(f"interactions: the workspace's {source}")
    return result


def _run_temporal(df: pd.DataFrame, items, label: str, specs, quick, n_boot) -> BenchResult:
    result = None
    for variant in ("novel", "repeat"):
        validation, test = temporal_splits(df, variant, items=items)
        if result is None:
            result = BenchResult(
                "recommend", label, test.protocol.split(", novel")[0].split(", repeat")[0]
            )
        rows, _ = bench_split(specs, validation, test, tune_params=not quick, n_boot=n_boot)
        result.rows += rows
        result.notes.append(f"{variant}: {test.protocol}; split {test.stats}")
    return result


@dataclass
class _Threads:
    restore: Callable[[], None]


def _limit_threads(n: int) -> _Threads:
    """BLAS and torch limited to ``n`` threads for the run (peers get ``num_threads=n``)."""
    limiter = threadpool_limits(n)
    try:
        import torch

        before = torch.get_num_threads()
        torch.set_num_threads(n)
    except ImportError:  # pragma: no cover - torch is a core dependency
        before = None

    def restore() -> None:
        limiter.restore_original_limits()
        if before is not None:
            import torch

            torch.set_num_threads(before)

    return _Threads(restore)
