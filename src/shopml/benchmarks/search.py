"""Search benchmark on Home Depot's real queries and human relevance judgements (1..3).

Two tasks, every query scored out of fold (K-fold grouped by query, never split by row):

1. re-rank the judged products of each query: NDCG@10 with gains ``relevance - 1`` and RMSE of
   predicted relevance (a score mapped to relevance by isotonic regression fitted on the training
   folds; the LightGBM relevance regressor for the learned row);
2. retrieve from the whole catalogue of product titles: Recall@10/@50 of the products judged
   >= 2.5, NDCG@10 with unjudged products counted as not relevant.

Rows: shopml BM25 (with and without spelling correction), bm25s (peer; fed shopml's tokens, and
on its own tokenizer), dense MiniLM, hybrid (RRF, and learned weights), hybrid + LambdaMART
re-ranker. Speed: BM25 top-10 queries per second against bm25s on the same queries in the same
run, one thread; p50/p99 latency of one query through the whole hybrid + re-rank path.

``python -m shopml.benchmarks.search [--quick]`` writes ``bench/results/search_homedepot.json``
(``shopml bench search --dataset homedepot`` does the same through the CLI).
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import GroupKFold

from shopml.benchmarks.runner import BenchResult, Row, suite
from shopml.core.errors import DataError, ValidationError
from shopml.search.analyzer import Tokens
from shopml.search.bm25 import BM25
from shopml.search.engine import SearchEngine
from shopml.search.hybrid import reciprocal_rank_fusion, rrf_pairs
from shopml.search.metrics import ndcg_grouped, ndcg_lists, recall_lists, rmse
from shopml.search.topk import topk_sparse

RELEVANT = 2.5  # "judged >= 2.5" counts as relevant for recall
DEPTH = 100  # candidates per retriever
BEST = "hybrid + LambdaMART re-ranker"


def cache_dir() -> Path:
    """Embedding cache outside the repository ($SHOPML_CACHE_DIR or ~/.cache/shopml)."""
    base = os.environ.get("SHOPML_CACHE_DIR", str(Path.home() / ".cache" / "shopml"))
    return Path(base) / "embeddings"


def load_homedepot(workspace: str | Path | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(items sorted by item_id, judgements) from a workspace file, or ingested from the data dir."""
    from shopml.data.workspace import Workspace

    ws = Workspace(str(workspace) if workspace is not None else ":memory:")
    if workspace is None:
        ws.ingest_dataset("homedepot")
    if ws.count("relevance_judgements") == 0:
        raise DataError(f"workspace {workspace} has no relevance_judgements to benchmark search on")
    items = ws.df("items").sort_values("item_id", kind="stable").reset_index(drop=True)
    return items, ws.df("relevance_judgements")


def subset(j: pd.DataFrame, n_queries: int, seed: int) -> pd.DataFrame:
    """A quick run's share of the judgements: a random sample of queries with all their pairs.

    The catalogue stays whole, so retrieval is as hard as in the full run (and the cached
    catalogue embeddings are reused).
    """
    queries = pd.unique(j["query"])
    keep = np.random.default_rng(seed).choice(
        queries, size=min(n_queries, len(queries)), replace=False
    )
    return j[j["query"].isin(keep)].reset_index(drop=True)


def _row_folds(test_queries: list[np.ndarray], group: np.ndarray, n_q: int):
    """Folds over the rows of a pair frame from the folds' test queries."""
    out = []
    for test_q in test_queries:
        is_test = np.zeros(n_q, bool)
        is_test[test_q] = True
        out.append((np.flatnonzero(~is_test[group]), np.flatnonzero(is_test[group])))
    return out


def _cross_fit(folds, fit_predict: Callable, n: int) -> np.ndarray:
    """Out-of-fold predictions: each row is predicted by the model of the fold it was left out of."""
    out = np.full(n, np.nan)
    for train, test in folds:
        out[test] = fit_predict(train, test)
    return out


def _top_from_pairs(q: np.ndarray, d: np.ndarray, score: np.ndarray, n_q: int, n_docs: int, k: int):
    # shifted so that every score is positive: a stored sparse entry, comparable within a query
    m = sp.csr_matrix((score - np.nanmin(score) + 1.0, (q, d)), shape=(n_q, n_docs))
    return topk_sparse(m, k)[0]


def _paired_ci(a: np.ndarray, b: np.ndarray, seed: int = 0, n_boot: int = 2000) -> dict:
    """Mean of a - b over queries with a 95% bootstrap interval (queries resampled)."""
    ok = ~(np.isnan(a) | np.isnan(b))
    d = a[ok] - b[ok]
    boots = d[np.random.default_rng(seed).integers(0, len(d), (n_boot, len(d)))].mean(axis=1)
    lo, hi = np.percentile(boots, [2.5, 97.5])
    return {"mean": float(d.mean()), "ci95": [float(lo), float(hi)], "queries": int(ok.sum())}


@suite("search")
def run(
    dataset: str | None = "homedepot",
    workspace: str | Path | None = None,
    quick: bool = False,
    folds: int = 5,
    seed: int = 0,
    encoder: object = "minilm",
    task: str | None = None,
    **_: object,
) -> BenchResult:
    """Run the search benchmark (see the module docstring); ``quick`` uses a subset.

    ``task="clicks"`` runs the click-model benchmark on simulated logs instead
    (:mod:`shopml.benchmarks.search_clicks`).
    """
    if task == "clicks":
        from shopml.benchmarks.search_clicks import run_clicks

        return run_clicks(dataset, quick=quick, seed=seed)
    if task not in (None, "ranking"):
        raise ValidationError(f"search tasks are 'ranking' (default) and 'clicks', got {task!r}")
    if workspace is None and (dataset or "homedepot") != "homedepot":
        raise ValidationError(
            f"the search suite runs on homedepot (or a workspace), got {dataset!r}"
        )
    t_start = time.perf_counter()
    items, j = load_homedepot(workspace)
    if quick:
        j = subset(j, n_queries=1500, seed=seed)
    notes: list[str] = []

    # ------------------------------------------------------------------ index and queries
    t0 = time.perf_counter()
    engine = SearchEngine(
        encoder=encoder, cache_dir=str(cache_dir()), depth=DEPTH, seed=seed
    )
    engine.fit(items[["item_id", "title"]])
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    queries, jq, jd, rel = engine.judged_pairs(j)
    qb = engine.prepare(queries)
    prep_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    lists = engine.retrieve(qb)
    retrieve_s = time.perf_counter() - t0
    n_q, n_docs = len(queries), len(items)
    has_dense = "dense" in lists

    jdf = (
        pd.DataFrame({"q": jq, "d": jd, "rel": rel})
        .groupby(["q", "d"], as_index=False)["rel"]
        .mean()
    )
    q1, d1, rel1 = jdf["q"].to_numpy(), jdf["d"].to_numpy(), jdf["rel"].to_numpy()
    # grouped K-fold over the judged pairs, grouped by query: a query's pairs are never split
    test_queries = [np.unique(q1[te]) for _, te in GroupKFold(n_splits=folds).split(q1, groups=q1)]
    notes.append(
        f"{n_q} queries, {len(q1)} judged pairs, catalogue of {n_docs} titles; {folds}-fold "
        f"GroupKFold by query; engine fit {fit_s:.1f}s (embeddings cached under {cache_dir()}), "
        f"query analysis + embedding {prep_s:.1f}s, BM25 and dense top-{DEPTH} {retrieve_s:.1f}s"
    )
    notes.append(f"spelling correction changed {qb.corrected.mean():.1%} of queries")

    # ------------------------------------------------------------------ task 1: re-rank judged
    X1 = engine.features(qb, q1, d1, lists)
    gain1 = engine.gains(rel1)
    folds1 = _row_folds(test_queries, q1, n_q)
    judged1 = np.ones(len(q1), bool)
    scores1: dict[str, np.ndarray] = {"random order": np.random.default_rng(seed).random(len(q1))}
    scores1["shopml BM25"] = X1["bm25"].to_numpy()
    raw_q = engine.bm25_.query_matrix(engine.analyzer_.tokens(queries))  # no spelling correction
    scores1["shopml BM25 (no spelling correction)"] = engine.bm25_.score_pairs(raw_q, q1, d1)
    if has_dense:
        scores1["dense (MiniLM)"] = X1["dense"].to_numpy()
        g = X1.groupby(q1)
        set_ranks = np.stack(
            [g[c].rank(ascending=False, method="average").to_numpy() for c in ("bm25", "dense")], 1
        )
        scores1["hybrid (RRF)"] = rrf_pairs(set_ranks, engine.rrf_k)
    learned1: dict[str, np.ndarray] = {
        m: np.full(len(q1), np.nan) for m in ("fusion", "rerank", "reg")
    }
    t0 = time.perf_counter()
    # ~50k judged pairs: LambdaMARTReranker's own defaults (300 trees, rate 0.05); the engine's
    # faster defaults (150 trees, rate 0.1) are for the million-pair candidate frames of task 2
    engine.ranker_params = {"n_estimators": 300, "learning_rate": 0.05, "min_child_samples": 50}
    for tr, te in folds1:
        engine.fit_ranker_frame(X1.iloc[tr], q1[tr], rel1[tr], judged1[tr], near_only=False)
        Xte = X1.iloc[te]
        learned1["rerank"][te] = engine.score(Xte, q1[te], "rerank")
        learned1["fusion"][te] = engine.score(Xte, q1[te], "fusion")
        learned1["reg"][te] = engine.regressor_.predict(Xte)
    ltr1_s = time.perf_counter() - t0
    engine.ranker_params = None
    if has_dense:
        scores1["hybrid (learned weights)"] = learned1["fusion"]
    scores1[BEST] = learned1["rerank"]

    def rmse_iso(score: np.ndarray) -> float:
        pred = _cross_fit(
            folds1,
            lambda tr, te: (
                IsotonicRegression(out_of_bounds="clip").fit(score[tr], rel1[tr]).predict(score[te])
            ),
            len(q1),
        )
        return rmse(pred, rel1)

    # ------------------------------------------------------------------ task 2: retrieval
    gains2 = sp.csr_matrix((gain1, (q1, d1)), shape=(n_q, n_docs))
    relevant2 = sp.csr_matrix(((rel1 >= RELEVANT).astype(float), (q1, d1)), shape=(n_q, n_docs))
    relevant2.eliminate_zeros()
    tops2: dict[str, np.ndarray] = {"shopml BM25": lists["bm25"][:, :50]}
    tops2["shopml BM25 (no spelling correction)"] = engine.bm25_.search(raw_q, 50)[0]
    if has_dense:
        tops2["dense (MiniLM)"] = lists["dense"][:, :50]
        both = [lists["bm25"], lists["dense"]]
        tops2["hybrid (RRF)"] = reciprocal_rank_fusion(both, n_docs, top=50, k=engine.rrf_k)[0]
    t0 = time.perf_counter()
    X2, pairs2 = engine.pair_frame(qb, lists, q1, d1, rel1)
    feat2_s = time.perf_counter() - t0
    q2, d2 = pairs2["q"].to_numpy(), pairs2["d"].to_numpy()
    retrieved2, judged2 = pairs2["retrieved"].to_numpy(bool), pairs2["judged"].to_numpy(bool)
    rel2 = pairs2["relevance"].to_numpy()
    # train on the training queries' candidates near the top of a list (the engine's train_depth);
    # rank only what the retrievers returned for the test queries
    folds2 = [(tr, te[retrieved2[te]]) for tr, te in _row_folds(test_queries, q2, n_q)]
    learned2 = {m: np.full(len(q2), np.nan) for m in ("fusion", "rerank")}
    t0 = time.perf_counter()
    for tr, te in folds2:
        engine.fit_ranker_frame(X2.iloc[tr], q2[tr], rel2[tr], judged2[tr], ("fusion", "rerank"))
        for m in learned2:
            learned2[m][te] = engine.score(X2.iloc[te], q2[te], m)
    ltr2_s = time.perf_counter() - t0
    for name, m in (("hybrid (learned weights)", "fusion"), (BEST, "rerank")):
        if m == "fusion" and not has_dense:
            continue
        ok = ~np.isnan(learned2[m])
        tops2[name] = _top_from_pairs(q2[ok], d2[ok], learned2[m][ok], n_q, n_docs, 50)
    notes.append(
        f"task 2: {int(retrieved2.sum())} retrieved candidate pairs (union of BM25 and dense "
        f"top-{DEPTH}); the learned scorers train on the training queries' candidates within rank "
        f"{engine.train_depth} of either list; features {feat2_s:.1f}s; "
        f"{folds} fits {ltr2_s:.1f}s (task 1: {ltr1_s:.1f}s)"
    )

    # ------------------------------------------------------------------ peer, speed, latency
    term_lists = qb.terms.lists()
    peer = _bm25s(items["title"], engine, term_lists, queries, speed_n=min(2000, n_q))
    tops2["bm25s (shopml tokens)"] = peer["same"]["top"]
    tops2["bm25s (own tokenizer)"] = peer["own"]["top"]
    scores1["bm25s (shopml tokens)"] = _bm25s_pair_scores(peer["same"]["model"], term_lists, q1, d1)
    speed = _speed(engine, qb, n=min(2000, n_q))
    latency = _latency(engine, queries, test_queries[-1], seed, n=100 if quick else 300)

    # ------------------------------------------------------------------ rows
    ndcg1 = {m: ndcg_grouped(q1, s, gain1, 10, n_groups=n_q, seed=seed) for m, s in scores1.items()}
    rmse1 = {m: rmse_iso(s) for m, s in scores1.items()}
    rmse1[BEST] = rmse(learned1["reg"], rel1)
    mean_pred = _cross_fit(folds1, lambda tr, te: np.full(len(te), rel1[tr].mean()), len(q1))
    rmse1["random order"] = rmse(mean_pred, rel1)  # the floor: predict the training mean
    ndcg2 = {m: ndcg_lists(t, gains2, 10) for m, t in tops2.items()}
    rec10 = {m: recall_lists(t, relevant2, 10) for m, t in tops2.items()}
    rec50 = {m: recall_lists(t, relevant2, 50) for m, t in tops2.items()}
    order = [
        "random order",
        "shopml BM25",
        "shopml BM25 (no spelling correction)",
        "bm25s (shopml tokens)",
        "bm25s (own tokenizer)",
        "dense (MiniLM)",
        "hybrid (RRF)",
        "hybrid (learned weights)",
        BEST,
    ]
    res = BenchResult(
        capability="search",
        dataset="homedepot" + ("_quick" if quick else ""),
        protocol=(
            f"{folds}-fold cross-validation grouped by query, every query scored out of fold; "
            "task 1 re-ranks each query's judged products (NDCG@10 with gains relevance - 1, "
            "RMSE of predicted relevance); task 2 retrieves from the whole catalogue of titles "
            f"(Recall@10/@50 of products judged >= {RELEVANT}, NDCG@10 with unjudged = 0)"
        ),
        notes=notes,
    )
    for m in order:
        if m not in ndcg1 and m not in ndcg2:
            continue
        metrics = {}
        if m in ndcg1:
            metrics["rerank_ndcg@10"] = float(np.nanmean(ndcg1[m]))
            metrics["rerank_rmse"] = rmse1[m]
        if m in ndcg2:
            metrics["retrieval_ndcg@10"] = float(np.nanmean(ndcg2[m]))
            metrics["retrieval_recall@10"] = float(np.nanmean(rec10[m]))
            metrics["retrieval_recall@50"] = float(np.nanmean(rec50[m]))
        row = Row(model=m, metrics=metrics, peer=m.startswith("bm25s"))
        if m == "shopml BM25":
            row.fit_seconds, row.predict_seconds = speed["fit_s"], speed["n"] / speed["qps_batch"]
            row.extra = {
                "qps_top10_batched": speed["qps_batch"],
                "qps_top10_one_by_one": speed["qps_one"],
            }
        elif m.startswith("bm25s"):
            key = "same" if "shopml" in m else "own"
            row.fit_seconds, row.predict_seconds = peer[key]["fit_s"], peer[key]["predict_s"]
            if key == "same":
                row.extra = {"qps_top10": peer["qps"]}
        elif m == BEST:
            row.extra = {"latency_ms": latency}
        res.rows.append(row)

    notes.append(
        "task 1 NDCG@10 is over the "
        f"{int(np.sum(~np.isnan(ndcg1['shopml BM25'])))} queries with a judged product above 1 "
        "(~6 judged products each, so even random order scores high); RMSE: isotonic calibration "
        "of each score on the training folds, LightGBM regression for the re-ranker row, the "
        "training mean for the random row"
    )
    for task, table in (("rerank_ndcg@10", ndcg1), ("retrieval_ndcg@10", ndcg2)):
        ci = _paired_ci(table[BEST], table["shopml BM25"], seed)
        notes.append(
            f"{task}: re-ranker - BM25 = {ci['mean']:+.4f} (95% bootstrap CI {ci['ci95'][0]:+.4f} "
            f"to {ci['ci95'][1]:+.4f}, {ci['queries']} queries); issue target +0.03"
        )
    notes.append(
        f"speed, BM25 top-10 over {n_docs} titles, one thread, the same {speed['n']} analysed "
        f"queries: shopml {speed['qps_batch']:.0f} q/s batched (one sparse product per 256 "
        f"queries), {speed['qps_one']:.0f} q/s one query at a time; bm25s {peer['qps']:.0f} q/s "
        "(its numpy backend: numba is not installed here)"
    )
    dense_txt = "MiniLM query embedding + dense scan + " if has_dense else ""
    notes.append(
        f"latency of one search() (analysis + spelling + {dense_txt}BM25 + features + LambdaMART, "
        f"top-10): p50 {latency['p50']:.1f} ms, p99 {latency['p99']:.1f} ms over {latency['n']} "
        "held-out queries"
    )
    notes.append(f"total suite time {time.perf_counter() - t_start:.0f}s")
    return res


def _bm25s(titles: pd.Series, engine: SearchEngine, term_lists, raw_queries, speed_n: int) -> dict:
    """The peer: bm25s on shopml's tokens and on its own tokenizer (top-50 lists, speed)."""
    import bm25s

    out: dict = {}
    t0 = time.perf_counter()
    doc_lists = engine.analyzer_.tokens(titles).lists()
    same = bm25s.BM25(k1=engine.k1, b=engine.b, method="lucene")
    same.index(doc_lists, show_progress=False)
    fit_s = time.perf_counter() - t0
    known = [[t for t in q if t in same.vocab_dict] for q in term_lists]
    t0 = time.perf_counter()
    top, _ = same.retrieve(known, k=50, n_threads=1, show_progress=False)
    out["same"] = {"top": top, "fit_s": fit_s, "predict_s": time.perf_counter() - t0, "model": same}
    t0 = time.perf_counter()
    own = bm25s.BM25(k1=engine.k1, b=engine.b, method="lucene")
    own.index(
        bm25s.tokenize(titles.tolist(), stopwords="en", show_progress=False), show_progress=False
    )
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    qtok = bm25s.tokenize(list(raw_queries), stopwords="en", show_progress=False)
    top, _ = own.retrieve(qtok, k=50, n_threads=1, show_progress=False)
    out["own"] = {"top": top, "fit_s": fit_s, "predict_s": time.perf_counter() - t0}
    sample = known[:speed_n]
    same.retrieve(sample[:50], k=10, n_threads=1, show_progress=False)  # warm-up
    t0 = time.perf_counter()
    same.retrieve(sample, k=10, n_threads=1, show_progress=False)
    out["qps"] = len(sample) / (time.perf_counter() - t0)
    return out


def _bm25s_pair_scores(model, query_lists, q: np.ndarray, d: np.ndarray) -> np.ndarray:
    """bm25s scores of judged pairs (its API scores every document of one query per call)."""
    out = np.zeros(len(q))
    order = np.argsort(q, kind="stable")
    bounds = np.searchsorted(q[order], np.arange(len(query_lists) + 1))
    for qi, toks in enumerate(query_lists):
        rows = order[bounds[qi] : bounds[qi + 1]]
        known = [t for t in toks if t in model.vocab_dict]
        if len(rows) and known:
            out[rows] = model.get_scores(known)[d[rows]]
    return out


def _speed(engine: SearchEngine, qb, n: int) -> dict:
    """shopml BM25: index time from titles, and top-10 throughput on already analysed queries."""
    titles = engine.items_["title"]
    t0 = time.perf_counter()
    bm = BM25(engine.k1, engine.b, analyzer=engine.analyzer_).fit({"title": titles})
    fit_s = time.perf_counter() - t0
    Q = qb.matrix[:n]
    bm.search(Q[:50], 10)  # warm-up
    t0 = time.perf_counter()
    bm.search(Q, 10)
    batch = time.perf_counter() - t0
    toks = [
        Tokens(np.zeros(len(t), np.int64), np.asarray(t, dtype=object), 1)
        for t in qb.terms.lists()[:n]
    ]
    t0 = time.perf_counter()
    for t in toks:
        bm.search_one(t, 10)
    one = time.perf_counter() - t0
    return {"n": n, "qps_batch": n / batch, "qps_one": n / one, "fit_s": fit_s}


def _latency(engine: SearchEngine, queries, test_q: np.ndarray, seed: int, n: int) -> dict:
    """Per-query latency of search() with the re-ranker of the last fold, on its held-out queries."""
    pick = np.random.default_rng(seed).choice(test_q, size=min(n, len(test_q)), replace=False)
    sample = [queries[i] for i in pick]
    engine.search(sample[0], k=10)  # warm-up (model load, caches)
    times = []
    for q in sample:
        t0 = time.perf_counter()
        engine.search(q, k=10)
        times.append((time.perf_counter() - t0) * 1000)
    t = np.asarray(times)
    return {"p50": float(np.percentile(t, 50)), "p99": float(np.percentile(t, 99)), "n": len(t)}


if __name__ == "__main__":  # pragma: no cover
    quick = "--quick" in sys.argv
    result = run(quick=quick)
    out = Path("bench/results") / f"search_homedepot{'_quick' if quick else ''}.json"
    result.write(out)
    print(result.markdown())
