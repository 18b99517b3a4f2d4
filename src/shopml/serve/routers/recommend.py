"""Recommendations: for a user, for an anonymous history, and similar items."""

from __future__ import annotations

from typing import Annotated, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Path, Query

from shopml.recommend.base import Filters
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, get_state, pick_recommender
from shopml.serve.errors import ApiError
from shopml.serve.schemas import (
    HistoryRequest,
    Item,
    K,
    ModelRef,
    Reason,
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


def items_out(frame: pd.DataFrame, catalogue: Catalogue, id_col: str = "item_id") -> list[Item]:
    """Model output (item id, score, rank) joined with the catalogue, as response items."""
    if not len(frame):
        return []
    ids = frame[id_col].astype(str).tolist()
    info = catalogue.describe(ids)
    score = frame["score"].to_numpy(dtype=np.float64)
    scores = np.where(np.isfinite(score), score, np.nan).tolist()
    ranks = frame["rank"].astype(int).tolist()
    return [
        Item(item_id=i, rank=r, score=None if s != s else s, title=t, category=c, price=p)
        for i, r, s, t, c, p in zip(
            ids, ranks, scores, info["title"], info["category"], info["price"], strict=True
        )
    ]


def _history(rec: LoadedRecommender, user_id: str) -> list[str]:
    m = rec.model
    if user_id not in m.users_:
        return []
    u = int(m.users_.encode([user_id])[0])
    return m.items_.decode(m.train_[u].indices).tolist()


def _explain(rec: LoadedRecommender, snap: Snapshot, user_id: str, items: list[Item]) -> None:
    for it in items:
        it.explanation = [
            Reason(
                because_of=r["because_of"],
                title=snap.catalogue.title(r["because_of"]),
                similarity=r["similarity"] if np.isfinite(r["similarity"]) else None,
            )
            for r in rec.model.explain(user_id, it.item_id, n=3)
        ]


@router.get(
    "/recommendations/{user_id}",
    response_model=Recommendations,
    summary="Top-k items for a user",
)
def recommend_user(
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
) -> Recommendations:
    """Recommendations from the user's training history merged with their recent feedback."""
    rec = pick_recommender(snap, model)
    m = rec.model
    filters = _filters(include_categories, exclude_categories)
    known = user_id in m.users_
    recent = state.overlay.items("user", user_id, after=rec.data_until)
    cold = False
    if recent:
        frame = m.recommend_for_history(_history(rec, user_id) + recent, k, exclude_seen, filters)
        source = "model+feedback" if known else "feedback"
    elif known:
        frame = m.recommend([user_id], k, exclude_seen, filters)
        source = "model"
    elif fallback == "popular":
        frame = m.recommend([user_id], k, exclude_seen, filters, unknown="popular")
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
    items = items_out(frame, snap.catalogue)
    if explain and known:
        _explain(rec, snap, user_id, items)
    return Recommendations(
        user_id=user_id, model=ModelRef(**rec.ref), cold_start=cold, source=source, items=items
    )


@router.post(
    "/recommendations/for-history",
    response_model=Recommendations,
    summary="Top-k for an anonymous history",
)
def recommend_history(
    body: HistoryRequest,
    snap: Snapshot = Depends(get_snapshot),
    state: ServeState = Depends(get_state),
) -> Recommendations:
    """Recommendations for a visitor known only by the items they interacted with (no retraining);
    with ``session_id``, that session's recent feedback is added to the history."""
    rec = pick_recommender(snap, body.model)
    m = rec.model
    history = list(body.item_ids)
    if body.session_id is not None:
        history += state.overlay.items("session", body.session_id, after=rec.data_until)
    known = (
        m.items_.encode(np.asarray(history, dtype=object), strict=False) >= 0
        if history
        else np.zeros(0, bool)
    )
    unknown = sorted({h for h, ok in zip(history, known, strict=True) if not ok})
    filters = _filters(body.include_categories, body.exclude_categories)
    frame = m.recommend_for_history(history, body.k, body.exclude_seen, filters)
    cold = not bool(known.any())
    return Recommendations(
        model=ModelRef(**rec.ref),
        cold_start=cold,
        source="popular" if cold else "history",
        items=items_out(frame, snap.catalogue),
        unknown_items=unknown[:100],
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
) -> Similar:
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
    return Similar(
        item_id=item_id,
        model=ModelRef(**rec.ref),
        items=items_out(frame, snap.catalogue, "similar_item_id"),
    )
