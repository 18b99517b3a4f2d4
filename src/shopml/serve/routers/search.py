"""Product search over the workspace's catalogue (lexical BM25F, spelling correction, filters)."""

from __future__ import annotations

from typing import Literal

import numpy as np
from fastapi import APIRouter, Depends, Query

from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot
from shopml.serve.errors import ApiError
from shopml.serve.schemas import K, SearchHit, SearchResults, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["search"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 422, 503),
)


@router.get("/search", response_model=SearchResults, summary="Search the catalogue")
def search(
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
) -> SearchResults:
    """The best ``k`` items for the query, with the spelling-corrected query."""
    if snap.search is None:
        raise ApiError(
            503, "no_search", "search is not available: the workspace has no items to index"
        )
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
    engine = snap.search.engine
    if method in ("dense", "rrf", "fusion") and getattr(engine, "dense_", None) is None:
        raise ApiError(
            422,
            "invalid_request",
            f"method {method!r} needs semantic retrieval, which this server runs without; use 'bm25'",
        )
    with snap.search.lock:  # the engine keeps the last query's correction on itself
        res = engine.search(q, k=k, filters=filters or None, method=method)
        corrected = res.attrs.get("corrected_query")
        used = method or engine.default_method()
    ids = res["item_id"].astype(str).tolist()
    info = snap.catalogue.describe(ids)
    score = res["score"].to_numpy(dtype=np.float64)
    scores = np.where(np.isfinite(score), score, np.nan).tolist()
    hits = [
        SearchHit(
            item_id=i, rank=r, score=None if s != s else s, title=t, category=c, brand=b, price=p
        )
        for i, r, s, t, c, b, p in zip(
            ids,
            res["rank"].astype(int).tolist(),
            scores,
            info["title"],
            info["category"],
            info["brand"],
            info["price"],
            strict=True,
        )
    ]
    return SearchResults(query=q, corrected_query=corrected, method=used, items=hits)
