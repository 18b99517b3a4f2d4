"""Pipeline step ``search``: index the catalogue, judge each retrieval method, register the engine.

The engine (:class:`shopml.search.SearchEngine`) indexes the workspace's ``items``. It is
evaluated where judgements exist:

- ``relevance_judgements`` (human grades, e.g. Home Depot): gains ``max(relevance - floor, 0)``;
- otherwise the shop's own search sessions: a session that starts with a search and then views
  items judges those items relevant to its query (binary).

The judged queries are split at random (seeded) into training queries and test queries
(``test_share``); every method is scored on the test queries only, retrieving from the whole
catalogue. BM25 is the baseline; dense (MiniLM) and reciprocal-rank fusion run when an encoder
is configured and need no training; the learned fusion (weights of BM25 and dense chosen on the
training queries) and the LambdaMART re-ranker (:mod:`shopml.search.ltr`, on the candidates'
lexical, semantic, match and item features) learn from the training queries' judgements.
NDCG@10 and recall@10 per query with bootstrap intervals over queries, and the best method's
NDCG@10 minus BM25's with a paired bootstrap interval (the same queries resampled).
"""

from __future__ import annotations

import time
from typing import Literal

import numpy as np
import pandas as pd
import scipy.sparse as sp
from pydantic import Field

from shopml.pipeline.config import Strict
from shopml.pipeline.steps import (
    Leader,
    StepContext,
    StepResult,
    StepSkipped,
    register_step,
    version_ref,
)

SESSION_JUDGEMENTS_SQL = """
WITH s AS (
  SELECT session_id, min(ts) AS ts, arg_min(query, ts) AS query FROM events
  WHERE event_type = 'search' AND query IS NOT NULL AND session_id IS NOT NULL GROUP BY session_id
)
SELECT s.query, e.item_id, 1.0 AS relevance
FROM s JOIN events e ON e.session_id = s.session_id AND e.ts >= s.ts
WHERE e.item_id IS NOT NULL AND e.event_type IN ('view', 'click', 'add_to_cart', 'purchase')
GROUP BY 1, 2
"""


class SearchStep(Strict):
    """The ``train.search`` section."""

    encoder: Literal["minilm"] | None = "minilm"
    k: int = Field(10, ge=1, le=100)
    max_queries: int = Field(2000, ge=10, description="test queries at most (as many train)")
    test_share: float = Field(0.5, gt=0, lt=1)
    learn: bool = Field(True, description="fit the learned fusion and the LambdaMART re-ranker")
    relevance_floor: float = 1.0
    register_policy: Literal["best", "all", "none"] | None = Field(None, alias="register")


@register_step("search", SearchStep, tables=("items", "events", "relevance_judgements"))
def search(ctx: StepContext, cfg: SearchStep) -> StepResult:
    """Index the items, evaluate BM25 / dense / fusion on judged queries, register the engine."""
    from shopml.core.errors import ShopMLError
    from shopml.evaluation.stats import bootstrap_ci
    from shopml.search.engine import SearchEngine
    from shopml.search.metrics import ndcg_lists, recall_lists

    items = ctx.workspace.df("items")
    if items.empty:
        raise StepSkipped("the workspace has no items to index")
    items = items.drop_duplicates("item_id").sort_values("item_id", kind="stable").reset_index(drop=True)
    text_cols = [c for c in ("title", "description", "category", "brand") if items[c].notna().any()]
    if not text_cols:
        raise StepSkipped("the items have no text (title, description, category or brand) to index")
    judged, source = _judgements(ctx, cfg)
    task = ctx.progress.add_task("search: indexing", total=2)
    encoder = cfg.encoder
    notes = []
    if encoder is not None:
        try:
            import sentence_transformers  # noqa: F401
        except ImportError as exc:
            notes.append(f"dense retrieval off: the nlp extra is not installed ({exc})")
            encoder = None
    from shopml.benchmarks.search import cache_dir

    t0 = time.perf_counter()
    try:
        # session judgements are binary (1 = viewed after the search): no floor to subtract
        floor = cfg.relevance_floor if source == "relevance_judgements" else 0.0
        engine = SearchEngine(encoder=encoder, cache_dir=str(cache_dir()), relevance_floor=floor)
        engine.fit(items, events=ctx.workspace.df("events", columns=["item_id", "event_type"]))
    except ShopMLError as exc:
        raise StepSkipped(f"the catalogue cannot be indexed: {exc}") from None
    fit_s = time.perf_counter() - t0
    ctx.progress.advance(task)
    methods = ["bm25"] + (["dense", "rrf"] if engine.dense_ is not None else [])
    if judged is None:  # the engine still serves; there is just nothing to judge it by
        ctx.progress.remove_task(task)
        result = StepResult(
            "search", f"not evaluated: no relevance judgements and no search sessions; {len(items)} items indexed",
            f"ndcg@{cfg.k}", True, notes=[*notes, "no judgements: the engine is indexed and registered, not evaluated"],
            stats={"items": len(items), "fields": text_cols},
        )
        _register(ctx, cfg, engine, result, engine.default_method(), encoder, len(items), {})
        return result
    queries = np.sort(pd.unique(judged["query"]).astype(str))  # SQL row order varies between runs
    rng = np.random.default_rng(ctx.evaluate.seed)
    queries = rng.permutation(queries)
    n_test = min(cfg.max_queries, max(1, int(round(cfg.test_share * len(queries)))))
    test_q = np.sort(queries[:n_test])
    train_q = np.sort(queries[n_test:n_test + cfg.max_queries])
    learned: list[str] = []
    if cfg.learn and len(train_q) >= 20:
        t0 = time.perf_counter()
        try:
            engine.fit_ranker(judged[judged["query"].isin(train_q)])
            learned = ["fusion", "rerank"]
        except ShopMLError as exc:
            notes.append(f"learned ranking not fitted: {exc}")
        fit_s += time.perf_counter() - t0
    elif cfg.learn:
        notes.append(f"only {len(train_q)} training queries: the learned methods are left out")
    queries = test_q
    judged = judged[judged["query"].isin(queries)]
    q_idx = pd.Index(queries).get_indexer(judged["query"])
    d_idx = engine.item_index_.get_indexer(judged["item_id"].astype(str))
    keep = d_idx >= 0
    gains = engine.gains(judged["relevance"].to_numpy(float)) if source == "relevance_judgements" else judged["relevance"].to_numpy(float)
    g = sp.csr_matrix((gains[keep], (q_idx[keep], d_idx[keep])), shape=(len(queries), len(items)))
    g.eliminate_zeros()
    protocol = (
        f"{len(queries)} test queries judged by {source.replace('_', ' ')} (the learned methods "
        f"trained on {len(train_q) if learned else 0} other queries); retrieval from the whole "
        f"catalogue of {len(items)} items; NDCG@{cfg.k} and recall@{cfg.k} per query"
    )
    result = StepResult("search", protocol, f"ndcg@{cfg.k}", True, notes=notes,
                        stats={"queries": len(queries), "train_queries": len(train_q) if learned else 0,
                               "judged_pairs": int(g.nnz), "items": len(items), "fields": text_cols})
    methods += learned
    ctx.progress.update(task, description="search: evaluating", total=1 + len(methods))
    per_query: dict[str, np.ndarray] = {}
    for method in methods:
        t0 = time.perf_counter()
        res = engine.search_batch(list(map(str, queries)), k=cfg.k, method=method)
        top = np.full((len(queries), cfg.k), -1, dtype=np.int64)
        top[res["query_idx"].to_numpy(), res["rank"].to_numpy() - 1] = engine.item_index_.get_indexer(res["item_id"])
        per_q = {f"ndcg@{cfg.k}": ndcg_lists(top, g, cfg.k), f"recall@{cfg.k}": recall_lists(top, g, cfg.k)}
        label = LABELS.get(method, method)
        per_query[label] = per_q[f"ndcg@{cfg.k}"]
        metrics, ci = {}, {}
        for name, values in per_q.items():
            values = values[~np.isnan(values)]
            c = bootstrap_ci(values, n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed, level=ctx.evaluate.level)
            metrics[name], ci[name] = round(c.mean, 5), [round(c.low, 5), round(c.high, 5)]
        metrics["queries_per_second"] = round(len(queries) / max(time.perf_counter() - t0, 1e-9), 1)
        result.leaderboard.append(Leader(label, metrics, ci, method == "bm25", round(fit_s, 3), {"method": method}))
        ctx.progress.advance(task)
    _compare(ctx, result, per_query, cfg.k)
    ctx.progress.remove_task(task)
    best = result.best(include_baselines=True)
    if best is not None:
        method = best.params.get("method", best.model)
        _register(ctx, cfg, engine, result, method, encoder, len(items), best.metrics)
    return result


#: leaderboard names of the engine's methods
LABELS = {"fusion": "hybrid (learned weights)", "rerank": "hybrid + LambdaMART re-ranker"}


def _compare(ctx: StepContext, result: StepResult, per_query: dict[str, np.ndarray], k: int) -> None:
    """The best method's NDCG@k minus BM25's on the same test queries (paired bootstrap)."""
    from shopml.evaluation.stats import paired_test

    best = result.best()
    if best is None or "bm25" not in per_query:
        return
    a, b = per_query[best.model], per_query["bm25"]
    ok = ~(np.isnan(a) | np.isnan(b))
    test = paired_test(a[ok], b[ok], n=ctx.evaluate.bootstrap, seed=ctx.evaluate.seed,
                       level=ctx.evaluate.level)
    result.stats["best_vs_baseline"] = {
        "model": best.model, "baseline": "bm25", "metric": f"ndcg@{k}",
        "diff": round(test.mean_diff, 5), "ci": [round(test.low, 5), round(test.high, 5)],
    }
    verdict = "beats" if test.low > 0 else "loses to" if test.high < 0 else "does not separate from"
    result.notes.append(
        f"{best.model} {verdict} bm25 on NDCG@{k}: difference {test.mean_diff:+.4f} "
        f"({ctx.evaluate.level:.0%} paired bootstrap [{test.low:+.4f}, {test.high:+.4f}])"
    )


def _register(ctx: StepContext, cfg: SearchStep, engine, result: StepResult, method: str,
              encoder: str | None, n_items: int, metrics: dict) -> None:
    """One engine serves every method: it is registered with the method that did best."""
    if not ctx.wants("engine", "engine", cfg.register_policy):
        return
    mv = ctx.register(
        "search", "engine", lambda d: engine.save(d / "engine"),
        config={"method": method, "encoder": encoder, "items": n_items}, metrics=metrics,
    )
    result.registered.append({**version_ref(mv), "model": f"engine ({method})", "test_metrics": metrics})


def _judgements(ctx: StepContext, cfg: SearchStep) -> tuple[pd.DataFrame | None, str]:
    """(query, item_id, relevance) from human judgements, else from search sessions."""
    if ctx.workspace.count("relevance_judgements"):
        j = ctx.workspace.df("relevance_judgements", columns=["query", "item_id", "relevance"])
        return j.dropna(), "relevance_judgements"
    j = ctx.workspace.sql(SESSION_JUDGEMENTS_SQL)
    return (j, "search_sessions") if len(j) else (None, "")
