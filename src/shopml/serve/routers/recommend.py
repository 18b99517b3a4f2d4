"""Recommendations: for a user, for an anonymous history, and similar items."""

from __future__ import annotations

import time
from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, Depends, Path, Query
from starlette.concurrency import run_in_threadpool

from shopml.recommend.base import Filters, Recommender
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, get_state, pick_recommender
from shopml.serve.errors import ApiError
from shopml.serve.responses import FastJSON, catalogue_positions, item_rows
from shopml.serve.schemas import (
    HistoryRequest,
    K,
    Recommendations,
    Similar,
    errors,
)
from shopml.serve.state import Catalogue, LoadedRecommender, ServeState, Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["recommend"],
    dependencies=[Depends(require_read_key)],
    responses=errors(400, 401, 404, 413, 422, 503),
)

UserId = Annotated[str, Path(min_length=1, max_length=256, description="The user's id.")]
ItemId = Annotated[str, Path(min_length=1, max_length=256, description="The item's id.")]
CategoryList = Annotated[
    list[str] | None,
    Query(max_length=200, description="Repeat the parameter or separate with commas."),
]


def _categories(values: list[str] | None) -> list[str] | None:
    if values is None:
        return None
    out = [c.strip() for v in values for c in v.split(",") if c.strip()]
    return out or None


def _filters(include: list[str] | None, exclude: list[str] | None) -> Filters | None:
    inc, exc = _categories(include), _categories(exclude)
    if inc is None and exc is None:
        return None
    return Filters(include_categories=inc, exclude_categories=exc)


#: a model call runs on the event loop while its class's calls average under this much CPU (a
#: thread-pool hop costs more than EASE's whole top-k); heavier models (a large UserKNN, say) and
#: torch models (which release the GIL) go to the thread pool
INLINE_MAX_CPU_S = 0.002
#: per recommender class: moving average of a call's CPU seconds (this thread's CPU time, which a
#: busy machine does not inflate as it does wall time)
_CPU: dict[type, float] = {}
_TORCH: dict[type, bool] = {}


def _timed(cls: type, fn: Any, *args: Any) -> Any:
    t0 = time.thread_time()
    try:
        return fn(*args)
    finally:
        spent = time.thread_time() - t0
        prev = _CPU.get(cls)
        _CPU[cls] = spent if prev is None else 0.9 * prev + 0.1 * spent


async def _call(model: Recommender, fn: Any, *args: Any) -> Any:
    """``fn(*args)`` for a request on ``model``: inline when its class's calls are short."""
    cls = type(model)
    if cls not in _TORCH:
        _TORCH[cls] = any(c.__name__ == "TorchRecommender" for c in cls.__mro__)
    if _TORCH[cls] or _CPU.get(cls, 0.0) > INLINE_MAX_CPU_S:
        return await run_in_threadpool(_timed, cls, fn, *args)
    return _timed(cls, fn, *args)


def _answer_items(
    rec: LoadedRecommender, catalogue: Catalogue, top: np.ndarray, scores: np.ndarray
) -> list[dict[str, Any]]:
    """Answer items of a recommender's top (dense item indices and scores)."""
    m = rec.model
    pos = catalogue_positions(catalogue, m, lambda: m.items_.ids)
    ids = m.items_.ids[top].tolist()
    return item_rows(catalogue, ids, pos[top], scores, extra={"explanation": None})


def _explain(
    rec: LoadedRecommender, snap: Snapshot, user_id: str, items: list[dict[str, Any]]
) -> None:
    for it in items:
        it["explanation"] = [
            {
                "because_of": r["because_of"],
                "title": snap.catalogue.title(r["because_of"]),
                "similarity": r["similarity"] if np.isfinite(r["similarity"]) else None,
            }
            for r in rec.model.explain(user_id, it["item_id"], n=3)
        ]


def _recommend_user(
    rec: LoadedRecommender,
    u: int,
    recent: list[str],
    k: int,
    exclude_seen: bool,
    filters: Filters | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k of a user (dense index ``u``, -1 if unknown to the model) merged with their recent
    feedback items: the model's scores of the training history plus the recent items."""
    m = rec.model
    if not recent:
        return m.recommend_one(u, k, exclude_seen, filters)
    seen = m.train_[u : u + 1].indices if u >= 0 else np.empty(0, np.int64)
    new = m.items_.encode(recent, strict=False)
    history = np.concatenate([seen.astype(np.int64), new[new >= 0].astype(np.int64)])
    return m.recommend_one(-1, k, exclude_seen, filters, history=history)


@router.get(
    "/recommendations/{user_id}",
    response_model=Recommendations,
    summary="Top-k items for a user",
)
async def recommend_user(
    user_id: UserId,
    k: K = 10,
    exclude_seen: bool = Query(
        True, description="Leave out items the user already interacted with."
    ),
    include_categories: CategoryList = None,
    exclude_categories: CategoryList = None,
    fallback: Literal["none", "popular"] = Query(
        "none",
        description="For a user without any history: 'popular' answers with the most "
        "popular items (flagged cold_start); 'none' answers 404.",
    ),
    explain: bool = Query(
        False, description="Add each item's reasons (the user's similar past items)."
    ),
    model: str | None = Query(
        None, max_length=128, description="Recommender name (default: the server's)."
    ),
    snap: Snapshot = Depends(get_snapshot),
    state: ServeState = Depends(get_state),
) -> FastJSON:
    """Recommendations from the user's training history merged with their recent feedback."""
    rec = pick_recommender(snap, model)
    m = rec.model
    filters = _filters(include_categories, exclude_categories)
    u = int(m.users_.encode([user_id], strict=False)[0])
    known = u >= 0
    recent = state.overlay.items("user", user_id, after=rec.data_until)
    cold = False
    if recent:
        source = "model+feedback" if known else "feedback"
    elif known:
        source = "model"
    elif fallback == "popular":
        source, cold = "popular", True
    else:
        raise ApiError(
            404,
            "unknown_user",
            f"user {user_id!r} is not known to recommender {rec.name} {rec.version.version} and has no "
            "recent feedback; ask with ?fallback=popular for a cold-start answer, or POST their items "
            "to /v1/recommendations/for-history",
            user_id=user_id,
            model=rec.ref,
        )
    top, scores = await _call(m, _recommend_user, rec, u, recent, k, exclude_seen, filters)
    items = _answer_items(rec, snap.catalogue, top, scores)
    if explain and known:  # similarities (co-occurrence models: a matrix pass): off the loop
        await run_in_threadpool(_explain, rec, snap, user_id, items)
    return FastJSON(
        {
            "user_id": user_id,
            "model": rec.ref,
            "cold_start": cold,
            "source": source,
            "items": items,
            "unknown_items": None,
        }
    )


@router.post(
    "/recommendations/for-history",
    response_model=Recommendations,
    summary="Top-k for an anonymous history",
)
async def recommend_history(
    body: HistoryRequest,
    snap: Snapshot = Depends(get_snapshot),
    state: ServeState = Depends(get_state),
) -> FastJSON:
    """Recommendations for a visitor known only by the items they interacted with (no retraining);
    with ``session_id``, that session's recent feedback is added to the history."""
    rec = pick_recommender(snap, body.model)
    m = rec.model
    history = list(body.item_ids)
    if body.session_id is not None:
        history += state.overlay.items("session", body.session_id, after=rec.data_until)
    codes = (
        m.items_.encode(np.asarray(history, dtype=object), strict=False)
        if history
        else np.zeros(0, np.int32)
    )
    known = codes >= 0
    unknown = sorted({h for h, ok in zip(history, known, strict=True) if not ok})
    filters = _filters(body.include_categories, body.exclude_categories)
    top, scores = await _call(
        m, m.recommend_one, -1, body.k, body.exclude_seen, filters, codes[known].astype(np.int64)
    )
    cold = not bool(known.any())
    return FastJSON(
        {
            "user_id": None,
            "model": rec.ref,
            "cold_start": cold,
            "source": "popular" if cold else "history",
            "items": _answer_items(rec, snap.catalogue, top, scores),
            "unknown_items": unknown[:100],
        }
    )


@router.get(
    "/items/{item_id}/similar",
    response_model=Similar,
    summary="Items similar to an item",
)
def similar_items(
    item_id: ItemId,
    k: K = 10,
    model: str | None = Query(
        None, max_length=128, description="Recommender name (default: the server's)."
    ),
    snap: Snapshot = Depends(get_snapshot),
) -> FastJSON:
    """The items the recommender finds most similar (embeddings, or co-occurrence)."""
    rec = pick_recommender(snap, model)
    if item_id not in rec.model.items_:
        raise ApiError(
            404,
            "unknown_item",
            f"item {item_id!r} is not known to recommender {rec.name} {rec.version.version} "
            "(not in its training data)",
            item_id=item_id,
            model=rec.ref,
        )
    frame = rec.model.similar_items([item_id], k)
    m = rec.model
    top = m.items_.encode(frame["similar_item_id"].to_numpy(dtype=object)).astype(np.int64)
    return FastJSON(
        {
            "item_id": item_id,
            "model": rec.ref,
            "items": _answer_items(rec, snap.catalogue, top, frame["score"].to_numpy()),
        }
    )
