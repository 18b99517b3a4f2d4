"""Session-based next-item benchmark (``shopml bench recommend --dataset diginetica``).

Protocol (after SR-GNN's and Ludewig et al.'s DIGINETICA preprocessing): the item views, one
session per ``session_id``; sessions that start in the last ``test_days`` days are the test
sessions, the earlier ones train. Test views of items never seen in training are dropped (no
model can score them), then every test session with at least two views is kept: its last view
is the target and the views before it, in time order, are the history the model is given as an
unseen visitor (``recommend_for_history``: no retraining). Full ranking over all training items,
items already viewed in the session are *not* removed (shoppers return to an item), one relevant
item per session, so HR@20 = Recall@20. Hyper-parameters are chosen by the same protocol on the
``test_days`` before the test period, within the per-model grid budget; the chosen model is
refitted on all training sessions and evaluated once.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp

from shopml.benchmarks.runner import BenchResult, Row, timed
from shopml.core.errors import DataError
from shopml.evaluation.ranking import RankingReport, ranking_metrics
from shopml.evaluation.splits import last_item_of_session, session_split
from shopml.evaluation.stats import paired_test
from shopml.recommend.interactions import Interactions

log = logging.getLogger(__name__)

K = 20
TEST_DAYS = 14.0  # the sample spans 9 weeks; 7-day periods hold ~100 usable sessions
REPORTED = ("hit_rate", "mrr", "ndcg")


@dataclass
class SessionSplit:
    """Training sessions (as the "users" of :class:`Interactions`) and held-out next items."""

    name: str
    train: Interactions
    histories: list[np.ndarray]  # per test session, training item indices, oldest first
    relevant: sp.csr_matrix  # test sessions × training items, the held-out last view
    protocol: str
    stats: dict[str, Any] = field(default_factory=dict)


def make_session_split(
    name: str, views: pd.DataFrame, test_days: float = TEST_DAYS, protocol: str = ""
) -> SessionSplit:
    """Split ``views`` (``session_id, item_id, ts``) as the module docstring describes."""
    cut = views["ts"].max() - pd.Timedelta(days=test_days)
    train_df, test_df = session_split(views, at=cut)
    train = Interactions.from_frame(train_df, user_col="session_id")
    known = train.items.encode(test_df["item_id"], strict=False) >= 0
    held = last_item_of_session(test_df[known])
    hist = held.train.sort_values(["session_id", "ts"], kind="stable")
    target = held.test.sort_values("session_id", kind="stable")
    sessions = target["session_id"].to_numpy()
    codes = pd.Index(sessions).get_indexer(hist["session_id"])
    items = train.items.encode(hist["item_id"]).astype(np.int64)
    bounds = np.searchsorted(codes, np.arange(len(sessions) + 1))
    histories = [items[bounds[s] : bounds[s + 1]] for s in range(len(sessions))]
    relevant = sp.csr_matrix(
        (
            np.ones(len(sessions), np.float32),
            (np.arange(len(sessions)), train.items.encode(target["item_id"])),
        ),
        shape=(len(sessions), train.n_items),
    )
    stats = {
        "train_sessions": train.n_users,
        "train_views": int(len(train_df)),
        "train_items": train.n_items,
        "test_sessions": len(sessions),
        "test_views_of_unknown_items_dropped": int((~known).sum()),
        "test_sessions_too_short": held.info["sessions_too_short"],
        "mean_history_length": round(float(np.mean([len(h) for h in histories])), 2)
        if histories
        else 0.0,
    }
    if not histories:
        raise DataError(f"{name}: no test session with two known views in the last {test_days:g} days")
    return SessionSplit(name, train, histories, relevant, protocol, stats)


def session_splits(views: pd.DataFrame, test_days: float = TEST_DAYS) -> tuple[SessionSplit, SessionSplit]:
    """(validation, test): test = sessions of the last ``test_days``; validation = the same cut
    applied to the training sessions."""
    protocol = (
        f"session-based next item: test = sessions starting in the last {test_days:g} days, "
        "last view of each held out, the earlier views given as an unseen visitor's history; "
        "test views of items unseen in training dropped, sessions of >= 2 views; full ranking "
        f"over all training items, viewed items not removed; hyper-parameters chosen on the "
        f"{test_days:g} days before the test period"
    )
    cut = views["ts"].max() - pd.Timedelta(days=test_days)
    starts = views.groupby("session_id")["ts"].transform("min")
    before = views[starts < cut]
    return (
        make_session_split("validation", before, test_days, protocol),
        make_session_split("test", views, test_days, protocol),
    )


def diginetica_views(data_dir: str | Path | None = None) -> pd.DataFrame:
    """The DIGINETICA item views as ``session_id, item_id, ts``."""
    from shopml.benchmarks.recommend import _workspace_for

    ws = _workspace_for("diginetica", data_dir)
    try:
        return ws.df(
            "events",
            columns=["session_id", "item_id", "ts"],
            where="event_type = 'view' AND session_id IS NOT NULL AND item_id IS NOT NULL",
        )
    finally:
        ws.close()


# ---------------------------------------------------------------------------- models
def session_specs() -> list:
    """The models of the session benchmark, with their grids (at most the shared budget)."""
    from shopml.benchmarks.recommend_models import ModelSpec, _grid
    from shopml.recommend.knn import ItemKNN
    from shopml.recommend.popularity import Popularity
    from shopml.recommend.sasrec import SASRec
    from shopml.recommend.session_knn import SessionKNN

    return [
        ModelSpec("popularity", Popularity, [{}]),
        ModelSpec("itemknn", ItemKNN, _grid(k_neighbours=[100, 400], shrinkage=[0.0, 10.0, 50.0])),
        ModelSpec(
            "sknn",
            SessionKNN,
            _grid(k_neighbours=[50, 100, 200], sample_size=[500, 1000], position_weighting=["none"]),
        ),
        ModelSpec(
            "v-sknn",
            SessionKNN,
            _grid(k_neighbours=[50, 100, 200], sample_size=[1000], position_weighting=["linear", "inverse"]),
        ),
        # sessions are short (a few views): a short window and a small network, trained for a
        # budget of epochs chosen on validation, minutes in all on 2 CPU cores
        ModelSpec(
            "sasrec",
            SASRec,
            _grid(
                embedding_dim=[64],
                max_len=[20],
                loss=["gbce", "softmax"],
                num_negatives=[256],
                epochs=[30],
                dropout=[0.3],
                batch_size=[128],
                device=["cpu"],
            ),
            heavy=True,
        ),
    ]


def evaluate_sessions(model: Any, split: SessionSplit, k: int = K) -> tuple[RankingReport, float]:
    """Top-``k`` for every held-out session from its history; (report, seconds)."""
    t0 = time.perf_counter()
    top = model.top_k_for_sequences(split.histories, k, exclude_seen=False)
    seconds = time.perf_counter() - t0
    report = ranking_metrics(top, split.relevant, ks=k, n_items=split.train.n_items)
    return report, seconds


def _tune(spec, validation: SessionSplit, k: int, metric: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    trials = []
    for params in spec.grid:
        t0 = time.perf_counter()
        model = spec.build(**params).fit(validation.train)
        means = evaluate_sessions(model, validation, k)[0].means()
        score, mrr = means[f"{metric}@{k}"], means[f"mrr@{k}"]
        trials.append(
            {
                "params": params,
                f"val_{metric}@{k}": round(score, 5),
                f"val_mrr@{k}": round(mrr, 5),
                "seconds": round(time.perf_counter() - t0, 2),
            }
        )
        log.info("  %s %s: val %s@%d = %.4f, mrr = %.4f", spec.name, params, metric, k, score, mrr)
    # few validation sessions make ties in hit rate common: MRR breaks them
    best = max(trials, key=lambda t: (t[f"val_{metric}@{k}"], t[f"val_mrr@{k}"]))
    return best["params"], trials


def bench_sessions(
    specs: list, validation: SessionSplit, test: SessionSplit, tune_params: bool = True,
    n_boot: int = 1000, k: int = K, metric: str = "hit_rate",
) -> list[Row]:
    """Tune on validation, refit on all training sessions, evaluate once on test."""
    rows, reports = [], {}
    for spec in specs:
        log.info("%s on %s", spec.name, test.name)
        if tune_params and len(spec.grid) > 1:
            params, trials = _tune(spec, validation, k, metric)
        else:
            params, trials = spec.grid[0], []
        times: dict[str, float] = {}
        with timed(times, "fit"):
            model = spec.build(**params).fit(test.train)
        report, predict_s = evaluate_sessions(model, test, k)
        means = report.means()
        metrics = {m: round(v, 5) for m, v in means.items() if m.split("@")[0] in REPORTED or m.startswith("coverage")}
        ci = {
            m: [round(c.low, 5), round(c.high, 5)]
            for m, c in report.confidence_intervals(n=n_boot, seed=0).items()
            if m.split("@")[0] in REPORTED
        }
        rows.append(
            Row(spec.name, metrics, False, round(times["fit"], 3), round(predict_s, 3), params,
                {"ci": ci, "sessions": report.n_users, "tuning": trials})
        )
        reports[spec.name] = report
    # the best model against every other, per session (same sessions, same order)
    key = f"{metric}@{k}"
    best = max(reports, key=lambda n: reports[n].means()[key])
    rows[list(reports).index(best)].extra["paired"] = {
        f"{m}@{k} vs {other}": paired_test(
            reports[best].per_user[f"{m}@{k}"], reports[other].per_user[f"{m}@{k}"], n=1000, seed=0
        ).as_dict()
        for other in reports
        if other != best
        for m in ("hit_rate", "mrr")
    }
    return rows


def _select_specs(models: list[str] | None, quick: bool) -> list:
    from shopml.core.errors import ValidationError

    specs = session_specs()
    if models is not None:
        by_name = {s.name: s for s in specs}
        unknown = [m for m in models if m not in by_name]
        if unknown:
            raise ValidationError(
                f"unknown session model(s) {unknown}; available: {sorted(by_name)}"
            )
        return [by_name[m] for m in models]
    return [s for s in specs if not (quick and s.heavy)]


def _run_sessions(
    views: pd.DataFrame, label: str, models: list[str] | None, quick: bool, n_boot: int,
    test_days: float,
) -> tuple[BenchResult, SessionSplit, SessionSplit]:
    """The session protocol on ``views``: tune on validation, evaluate once on test."""
    specs = _select_specs(models, quick)
    validation, test = session_splits(views, test_days)
    import torch

    # the networks here are tiny (a few thousand short sessions): one torch thread wastes
    # nothing and stays fast on a shared machine, where two spin against other work
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        result = BenchResult("recommend", label, test.protocol)
        result.rows += bench_sessions(specs, validation, test, tune_params=not quick, n_boot=n_boot)
    finally:
        torch.set_num_threads(before)
    result.notes.append(f"split: {test.stats}; validation split: {validation.stats}")
    result.notes.append(
        f"tuned on validation HR@{K}, ties broken by MRR@{K}; HR@{K} equals Recall@{K} (one "
        "target per session)"
    )
    return result, validation, test


def run_diginetica(data_dir, models: list[str] | None, quick: bool, n_boot: int) -> BenchResult:
    """The DIGINETICA suite (called by :func:`shopml.benchmarks.recommend.run`)."""
    result, _, _ = _run_sessions(
        diginetica_views(data_dir), "diginetica", models, quick, n_boot, TEST_DAYS
    )
    result.notes.insert(
        1,
        "data: the 12,391-view DIGINETICA sample of SR-GNN's repository (2,986 sessions, 7,139 "
        "items, most viewed once), not the full 1.2M-view set behind published numbers (e.g. "
        "SR-GNN P@20 50.7, MRR@20 17.6; Ludewig et al. 2021): absolute values are not comparable "
        "with those, the comparison between the models here is",
    )
    return result


# ---------------------------------------------------------------------------- any workspace
PROTOCOLS = ("temporal", "session")
#: the events that are a visitor's interest in an item (searches and removals are not)
ITEM_EVENTS = ("view", "click", "add_to_cart", "purchase", "wishlist", "rating")
#: the session protocol's test period on a workspace: the last week (the DIGINETICA protocol
#: of Li et al. 2017 and Wu et al. 2019), or a fifth of a shorter history
WORKSPACE_TEST_DAYS = 7.0


def _item_events_sql(where: str = "") -> str:
    types = ", ".join(f"'{t}'" for t in ITEM_EVENTS)
    return (
        f"FROM events WHERE item_id IS NOT NULL AND ts IS NOT NULL AND event_type IN ({types})"
        + (f" AND {where}" if where else "")
    )


def choose_protocol(ws: Any) -> tuple[str, str]:
    """(protocol, why) for a workspace: ``session`` when its item events have session ids and
    none has a user id (anonymous sessions: nobody to follow over time), else ``temporal``."""
    n_sessions, n_users = ws.con.execute(
        "SELECT count(*) FILTER (WHERE session_id IS NOT NULL), "
        f"count(*) FILTER (WHERE user_id IS NOT NULL) {_item_events_sql()}"
    ).fetchall()[0]
    if n_sessions and not n_users:
        return "session", (
            f"the events are anonymous sessions ({n_sessions:,} item events with session ids, "
            "none with a user id): next item within sessions"
        )
    if n_users:
        return "temporal", f"{n_users:,} item events carry user ids: per-user temporal split"
    return "temporal", "no item events with sessions: per-user temporal split over orders"


def workspace_views(ws: Any) -> pd.DataFrame:
    """The item events of a workspace's sessions as ``session_id, item_id, ts``."""
    return ws.con.execute(
        f"SELECT session_id, item_id, ts {_item_events_sql('session_id IS NOT NULL')} "
        "ORDER BY session_id, ts"
    ).df()


def workspace_test_days(views: pd.DataFrame) -> float:
    """The last week, or a fifth of a history shorter than five weeks."""
    span = (views["ts"].max() - views["ts"].min()) / pd.Timedelta(days=1)
    return float(min(WORKSPACE_TEST_DAYS, max(span / 5.0, 1.0 / 24)))


def run_workspace(
    workspace: str | Path,
    protocol: str | None = None,
    models: list[str] | None = None,
    quick: bool = False,
    n_boot: int = 1000,
    test_days: float | None = None,
    out: str | Path | None = None,
) -> BenchResult:
    """``shopml bench recommend --workspace W --protocol temporal|session``.

    ``protocol=None`` chooses with :func:`choose_protocol`. ``session`` runs the session suite
    of this module (the DIGINETICA protocol) on the workspace's item events; ``temporal`` runs
    :func:`shopml.benchmarks.recommend.run` on the workspace.
    """
    from shopml.benchmarks.workspace import open_workspace
    from shopml.core.errors import ValidationError

    if protocol is not None and protocol not in PROTOCOLS:
        raise ValidationError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
    with open_workspace(None, workspace) as ws:
        chosen, why = choose_protocol(ws)
        if protocol is None:
            protocol = chosen
        else:
            auto = f"; {why}" if protocol == chosen else f" (auto: {chosen}: {why})"
            why = "asked for" + auto
        views = workspace_views(ws) if protocol == "session" else None
    if protocol == "temporal":
        from shopml.benchmarks.recommend import run

        result = run(workspace=workspace, models=models, quick=quick, n_boot=min(n_boot, 1000),
                     protocol="temporal")
    else:
        if views is None or views.empty:
            raise DataError(
                f"workspace {workspace} has no item events with session ids: the session "
                "protocol needs events (view, click, add_to_cart, purchase, ...) with "
                "session_id, item_id, ts"
            )
        days = float(test_days) if test_days is not None else workspace_test_days(views)
        if quick:
            n_boot = min(n_boot, 200)
        result, _, _ = _run_sessions(views, Path(str(workspace)).stem, models, quick, n_boot, days)
        if quick:
            result.notes.append(
                "quick run: no tuning, no torch models: a smoke test, not for reporting"
            )
    result.notes.insert(0, f"protocol: {protocol} ({why})")
    if out is not None:
        result.write(out)
    return result
