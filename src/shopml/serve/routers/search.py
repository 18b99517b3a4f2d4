"""Product search over the workspace's catalogue (lexical BM25F, spelling correction, filters)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from shopml.serve.auth import require_read_key
from shopml.serve.batching import Hits, SearchBatcher, split_results
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.errors import ApiError
from shopml.serve.responses import FastJSON, item_rows
from shopml.serve.schemas import K, SearchResults, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["search"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 422, 503),
)


def batcher(request: Request) -> SearchBatcher:
    """The app's search batcher (made on first use, one per worker process)."""
    b = getattr(request.app.state, "search_batcher", None)
    if b is None:
        settings = request.app.state.settings
        b = request.app.state.search_batcher = SearchBatcher(
            max_batch=settings.search_max_batch,
            max_wait_s=settings.search_max_wait_ms / 1000.0,
            on_batch=request.app.state.metrics.observe_search_batch,
        )
    return b


def _search_one(engine, q: str, k: int, filters: dict | None, method: str | None) -> Hits:
    """One query without batching (a lexical engine: cheap enough to run alone)."""
    return split_results(engine.search_batch([q], k=k, filters=filters, method=method), 1)[0]


@router.get("/search", response_model=SearchResults, summary="Search the catalogue")
async def search(
    request: Request,
    q: str = Query(
        ..., min_length=1, max_length=500, pattern=r"^[^\x00]*$", description="The query."
    ),
    k: K = 10,
    category: list[str] | None = Query(None, max_length=100, description="Keep these categories."),
    brand: list[str] | None = Query(None, max_length=100, description="Keep these brands."),
    min_price: float | None = Query(None, ge=0, le=1e12),
    max_price: float | None = Query(None, ge=0, le=1e12),
    method: Literal["bm25", "dense", "rrf", "fusion", "rerank"] | None = Query(
        None, description="Scorer (default: the best the engine has)."
    ),
    snap: Snapshot = Depends(get_snapshot),
) -> FastJSON:
    """The best ``k`` items for the query, with the spelling-corrected query. With semantic
    retrieval, concurrent queries are encoded and re-ranked together (micro-batching)."""
    loaded = served_model(snap, "search", None)
    if not q.strip():
        raise ApiError(422, "invalid_request", "q: the query is blank")
    if min_price is not None and max_price is not None and min_price > max_price:
        raise ApiError(
            422, "invalid_request", f"min_price {min_price} is above max_price {max_price}"
        )
    filters: dict[str, object] = {}
    if category:
        filters["category"] = category
    if brand:
        filters["brand"] = brand
    if min_price is not None or max_price is not None:
        filters["price"] = (min_price, max_price)
    engine = loaded.obj
    if method in ("dense", "rrf", "fusion") and getattr(engine, "dense_", None) is None:
        raise ApiError(
            422,
            "invalid_request",
            f"method {method!r} needs semantic retrieval, which this server runs without; use 'bm25'",
        )
    if getattr(engine, "dense_", None) is not None:  # the encoder and re-ranker batch well
        hits = await batcher(request).search(engine, q, k, filters or None, method)
    else:
        hits = await run_in_threadpool(_search_one, engine, q, k, filters or None, method)
    cat = snap.catalogue
    pos = cat.index.get_indexer(np.asarray(hits.item_ids, dtype=object)).astype(np.int64)
    items = item_rows(cat, hits.item_ids, pos, hits.scores, ("title", "category", "brand", "price"))
    return FastJSON(
        {
            "query": q,
            "corrected_query": hits.corrected_query,
            "method": method or engine.default_method(),
            "items": items,
        }
    )
