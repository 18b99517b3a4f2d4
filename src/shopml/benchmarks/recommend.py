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
from pathlib import Path

import pandas as pd

from shopml.benchmarks.recommend_eval import K, bench_split
from shopml.benchmarks.recommend_models import THREADS, ModelSpec, model_specs
from shopml.benchmarks.recommend_speed import als_speed, limit_threads, speed_note
from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import DataError, ValidationError
from shopml.evaluation.protocols import RecommendSplit, make_split
from shopml.evaluation.splits import stratified_user_split, temporal_split
from shopml.recommend.interactions import Interactions

log = logging.getLogger(__name__)

__all__ = ["K", "movielens_frame", "movielens_splits", "purchases_frame", "run", "temporal_splits"]


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
) -> tuple[RecommendSplit, RecommendSplit]:
    """(validation split carved from train, test split) under the Microsoft Recommenders
    protocol (its rounding of each user's 75%: ``rounding="round"``)."""
    df, items = movielens_frame(data_dir)
    if max_users is not None:
        df = df[df["user_id"].isin(pd.unique(df["user_id"])[:max_users])]
    protocol = (
        "Microsoft Recommenders: per-user stratified random 75/25 split (seed 42), all ratings "
        "as implicit positives, top-10 over all items, training items removed, binary relevance; "
        "hyper-parameters chosen on a 75/25 stratified split of train (seed 43)"
    )
    train, test = stratified_user_split(df, 0.75, seed=42, rounding="round")
    sub, val = stratified_user_split(train, 0.75, seed=43, rounding="round")
    build = Interactions.from_frame
    return (
        make_split("validation", sub, val, True, protocol, items=items, interactions=build),
        make_split("test", train, test, True, protocol, items=items, interactions=build),
    )


def temporal_splits(
    df: pd.DataFrame, variant: str, test_days: float = 30.0, items: pd.DataFrame | None = None
) -> tuple[RecommendSplit, RecommendSplit]:
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
    try:
        train, test = temporal_split(df, test_days=test_days)
        sub, val = temporal_split(train, test_days=test_days)
    except ValidationError as exc:
        raise DataError(
            f"not enough history for a temporal split with {test_days:g}-day periods: {exc}"
        ) from None
    build = Interactions.from_frame
    return (
        make_split(
            f"validation-{variant}",
            sub,
            val,
            novel,
            protocol,
            novel,
            variant,
            items,
            interactions=build,
        ),
        make_split(
            f"test-{variant}",
            train,
            test,
            novel,
            protocol,
            novel,
            variant,
            items,
            interactions=build,
        ),
    )


def run_als_speed(data_dir) -> BenchResult:
    """``task='als-speed'``: only the ALS fit timing, on MovieLens-100k's training split."""
    _, test = movielens_splits(data_dir)
    speed = als_speed(test.train)
    result = BenchResult(
        "recommend",
        "movielens-100k",
        "ALS fit time on the training split of the Microsoft "
        "Recommenders protocol (74,992 ratings as implicit positives)",
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
    result.notes.append(speed_note(speed))
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
    protocol: str | None = None,
) -> BenchResult:
    """Run the recommendation benchmark on a named dataset or an ingested workspace.

    On a workspace, ``protocol`` is ``temporal`` (per-user split in time) or ``session`` (next
    item within the sessions of the last days, full ranking); ``None`` chooses ``session`` when
    the events are anonymous sessions (``recommend_session.choose_protocol``).

    ``task='als-speed'`` (movielens-100k) times only the ALS fits against implicit's.
    ``quick`` skips tuning (each model's first configuration), the heavy torch models unless
    named in ``models``, and keeps 300 users (movielens) — a smoke test, not for reporting.
    ``out`` writes the JSON and Markdown.
    """
    if (dataset is None) == (workspace is None):
        raise ValidationError("give exactly one of dataset or workspace")
    if protocol is not None and workspace is None:
        raise ValidationError("protocol applies to a workspace (named datasets have their own)")
    if workspace is not None and protocol != "temporal" and task is None:
        from shopml.benchmarks.recommend_session import run_workspace

        # chooses the protocol from the data when none is given; its temporal branch is this
        return run_workspace(workspace, protocol, models, quick, n_boot, out=out)
    if task is not None:
        if task != "als-speed" or dataset != "movielens-100k":
            raise ValidationError(
                f"unknown recommend task {task!r} for {dataset or workspace}; have 'als-speed' "
                "(movielens-100k)"
            )
        threads = limit_threads(THREADS)
        try:
            result = run_als_speed(data_dir)
        finally:
            threads.restore()
        if out is not None:
            result.write(out)
        return result
    specs = _select(models, quick) if dataset != "diginetica" else []
    if quick:
        max_users = max_users or 300
        n_boot = min(n_boot, 200)
    threads = limit_threads(THREADS)
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
        "published table's MAP); map_min@10 divides by min(10, relevant) (their `map_at_k` "
        "since 1.2)"
    )
    result.notes.append(
        "published (Microsoft Recommenders README, same protocol): NDCG@10 BiVAE 0.475, BPR 0.442, "
        "LightGCN 0.420, NCF 0.396, SAR 0.382; MAP@10 BiVAE 0.146, BPR 0.132"
    )
    if any(s.name == "als" for s in specs) and not quick:
        result.notes.append(speed_note(als_speed(test.train)))
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
