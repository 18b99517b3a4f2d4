"""Click models against raw click-through rate on simulated search logs with known truth.

For each user behaviour of the simulator (PBM, cascade, DBN; :mod:`shopml.data.synth.search_logs`)
the log is drawn once and every model estimates the relevance of each logged (query, item) pair.
Scored against the simulator's truth (the attraction, or attraction x satisfaction for DBN logs):

- ``ndcg@5``: per query, the items ordered by the estimate, gains ``2^grade - 1`` of the true grade;
- ``spearman``: per query, rank correlation of the estimate with the true relevance;
- ``grade_spearman``: the same for the integer grades :func:`shopml.search.ltr.click_labels` makes
  for the re-ranker (pairs with at least 10 impressions).

Rows: raw CTR, the production ranker's own score (what the log's order knows), cascade, PBM, DBN.
Notes: PBM's recovered examination curve against the truth, DBN's perseverance, and a
sensitivity run with a better production ranker. ``shopml bench search --task clicks
--dataset synthetic`` writes ``bench/results/search_clicks_synthetic.{json,md}``.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from shopml.benchmarks.runner import BenchResult, Row
from shopml.core.errors import ValidationError
from shopml.data.synth.search_logs import USER_MODELS, SearchLogs, simulate_search_logs
from shopml.search.click_models import CLICK_MODELS, ClickModel
from shopml.search.ltr import click_labels
from shopml.search.metrics import ndcg_grouped

NAMES = {"cascade": "cascade model", "pbm": "PBM (EM)", "dbn": "DBN (EM)"}


def _rank_corr(group: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Spearman correlation of ``a`` and ``b`` within each group (NaN for constant groups)."""
    f = pd.DataFrame({"g": group, "a": a, "b": b})
    r = f.groupby("g")[["a", "b"]].rank(method="average")
    r["g"] = f["g"]
    r["ab"], r["aa"], r["bb"] = r["a"] * r["b"], r["a"] ** 2, r["b"] ** 2
    s = r.groupby("g").agg(["sum"]).droplevel(1, axis=1)
    n = f.groupby("g").size()
    cov = s["ab"] - s["a"] * s["b"] / n
    va, vb = s["aa"] - s["a"] ** 2 / n, s["bb"] - s["b"] ** 2 / n
    with np.errstate(invalid="ignore", divide="ignore"):
        return (cov / np.sqrt(va * vb)).to_numpy()


def score_estimates(logs: SearchLogs, pairs: pd.DataFrame, column: str) -> dict[str, float]:
    """NDCG@5 and Spearman of ``pairs[column]`` against the simulator's truth, over logged pairs."""
    truth = logs.truth()
    est_frame = pairs[["query", "item", column]].rename(columns={column: "_estimate"})
    f = est_frame.merge(truth, on=["query", "item"], how="inner")
    true_rel = f["attraction"] * (f["satisfaction"] if logs.config.user_model == "dbn" else 1.0)
    q = f["query"].to_numpy()
    est = f["_estimate"].to_numpy(np.float64)
    ndcg = ndcg_grouped(q, est, 2.0 ** f["grade"].to_numpy() - 1, 5)
    return {
        "ndcg@5": float(np.nanmean(ndcg)),
        "spearman": float(np.nanmean(_rank_corr(q, est, true_rel.to_numpy()))),
    }


def evaluate(logs: SearchLogs) -> tuple[dict[str, dict[str, float]], dict[str, ClickModel], dict]:
    """Scores of every model and of the two baselines on one log, the fitted models, timings."""
    out: dict[str, dict[str, float]] = {}
    models: dict[str, ClickModel] = {}
    secs: dict[str, float] = {}
    for key, cls in CLICK_MODELS.items():
        t0 = time.perf_counter()
        models[key] = cls().fit(logs.query, logs.docs, logs.clicks)
        secs[key] = time.perf_counter() - t0
        pairs = models[key].pair_frame()
        out[NAMES[key]] = score_estimates(logs, pairs, "relevance")
        labels = click_labels(pairs, min_impressions=10)
        out[NAMES[key]]["grade_spearman"] = score_estimates(logs, labels, "grade")["spearman"]
    pairs = models["pbm"].pair_frame()
    out["raw CTR"] = score_estimates(logs, pairs, "ctr")
    ctr_labels = click_labels(pairs, min_impressions=10, column="ctr")
    out["raw CTR"]["grade_spearman"] = score_estimates(logs, ctr_labels, "grade")["spearman"]
    return out, models, secs


def run_clicks(dataset: str | None = "synthetic", quick: bool = False, seed: int = 0) -> BenchResult:
    """The click-model benchmark (module docstring)."""
    if dataset not in (None, "synthetic"):
        raise ValidationError(
            f"the clicks task runs on simulated logs (--dataset synthetic), got {dataset!r}"
        )
    t_start = time.perf_counter()
    n_sessions = 20_000 if quick else 100_000
    res = BenchResult(
        capability="search",
        dataset="clicks_synthetic" + ("_quick" if quick else ""),
        protocol=(
            f"simulated search logs (shopml.data.synth.search_logs: 200 queries x 15 items, slates "
            f"of 10, {n_sessions} sessions, production ranker = grade + 2 N(0,1) lasting error + "
            "0.7 N(0,1) per session) drawn under each user model; every model estimates each logged "
            "pair's relevance; scored per query against the true relevance (attraction; x "
            "satisfaction for DBN logs): NDCG@5 with gains 2^grade - 1, Spearman; grade_spearman "
            "= Spearman of the click_labels grades (pairs with >= 10 impressions)"
        ),
    )
    tables: dict[str, dict[str, dict[str, float]]] = {}
    fit_s: dict[str, list[float]] = {k: [] for k in CLICK_MODELS}
    for um in USER_MODELS:
        logs = simulate_search_logs(user_model=um, n_sessions=n_sessions, seed=seed)
        scores, models, secs = evaluate(logs)
        tables[um] = scores
        for k, v in secs.items():
            fit_s[k].append(v)
        if um == "pbm":
            exam = models["pbm"].examination_
            true = logs.examination / logs.examination[0]
            res.notes.append(
                "PBM examination recovered on PBM logs (relative to position 1): "
                + ", ".join(f"{x:.3f}" for x in exam)
                + f"; truth 1/r: max abs error {np.abs(exam - true).max():.3f}"
            )
        if um == "dbn":
            res.notes.append(
                f"DBN perseverance recovered on DBN logs: gamma {models['dbn'].gamma_:.3f} "
                f"(truth {logs.config.continuation})"
            )
        res.notes.append(
            f"{um} logs: {int(logs.clicks.sum())} clicks in {len(logs.query)} sessions, "
            f"{len(models['pbm'].pairs_)} logged pairs"
        )
    order = ["raw CTR", NAMES["cascade"], NAMES["pbm"], NAMES["dbn"]]
    for name in order:
        metrics = {f"{um}_{m}": v for um in USER_MODELS for m, v in tables[um][name].items()}
        key = next((k for k, n in NAMES.items() if n == name), None)
        row = Row(model=name, metrics=metrics)
        if key is not None:
            row.fit_seconds = float(np.mean(fit_s[key]))
            row.params = {"n_iter": 50, "prior_strength": 2.0}
        res.rows.append(row)

    # sensitivity: a good production ranker already sorts the log, and CTR inherits that order
    good = simulate_search_logs(
        user_model="pbm", n_sessions=n_sessions, seed=seed, ranker_error=1.0
    )
    s_good, _, _ = evaluate(good)
    res.notes.append(
        "sensitivity, PBM logs with a better production ranker (lasting error 1 grade step "
        f"instead of 2): NDCG@5 raw CTR {s_good['raw CTR']['ndcg@5']:.4f}, PBM "
        f"{s_good[NAMES['pbm']]['ndcg@5']:.4f}; Spearman raw CTR "
        f"{s_good['raw CTR']['spearman']:.3f}, PBM {s_good[NAMES['pbm']]['spearman']:.3f} "
        "(CTR then borrows the ranker's knowledge: rarely shown items were ranked low for a reason)"
    )
    for um in USER_MODELS:
        best = max(order[1:], key=lambda n: tables[um][n]["ndcg@5"])
        res.notes.append(
            f"{um} logs: best click model {best} NDCG@5 {tables[um][best]['ndcg@5']:.4f} vs raw "
            f"CTR {tables[um]['raw CTR']['ndcg@5']:.4f}"
        )
    res.notes.append(f"total time {time.perf_counter() - t_start:.0f}s")
    return res
