"""Review sentiment: ``POST /v1/sentiment`` (polarity, score, stars, frustration flags) and
``GET /v1/reviews/aspects/{item_id}`` (what customers praise and complain about) from the
registered ``text`` model; nothing is refitted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Path, Query
from pydantic import BaseModel, Field

from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.schemas import ModelRef, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["text"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)


class SentimentRequest(BaseModel):
    texts: list[str] = Field(
        ..., min_length=1, max_length=256, description="Texts to score (at most 256)."
    )
    model: str | None = Field(None, max_length=128)


class SentimentRow(BaseModel):
    text: str
    polarity: str
    score: float = Field(description="Sentiment in [-1, 1].")
    stars: int
    confidence: float | None
    anger: bool
    disappointment: bool
    urgency: bool


class SentimentResponse(BaseModel):
    items: list[SentimentRow]
    model: ModelRef


class Aspect(BaseModel):
    aspect: str
    side: str
    count: int
    share: float
    examples: list[str]


class AspectsResponse(BaseModel):
    item_id: str
    reviews: int
    praise: list[Aspect]
    complaints: list[Aspect]
    model: ModelRef


def sentiment_rows(model: Any, texts: list[str]) -> list[dict[str, Any]]:
    """The router's work without FastAPI."""
    import math

    from shopml.text.frustration import frustration_flags

    res = model.analyze(texts)
    flags = frustration_flags(texts, res["score"].to_numpy())
    rows = []
    for i, t in enumerate(texts):
        conf = float(res["confidence"].iat[i])
        rows.append(
            {
                "text": t,
                "polarity": str(res["polarity"].iat[i]),
                "score": float(res["score"].iat[i]),
                "stars": int(res["stars"].iat[i]),
                "confidence": None if math.isnan(conf) else conf,
                "anger": bool(flags["anger_flag"].iat[i]),
                "disappointment": bool(flags["disappointment_flag"].iat[i]),
                "urgency": bool(flags["urgency_flag"].iat[i]),
            }
        )
    return rows


@router.post("/sentiment", response_model=SentimentResponse, summary="Score sentiment")
def sentiment(req: SentimentRequest, snap: Snapshot = Depends(get_snapshot)) -> SentimentResponse:
    """Polarity, a score in [-1, 1], predicted stars and frustration flags per text."""
    loaded = served_model(snap, "text", req.model)
    return SentimentResponse(
        items=[SentimentRow(**r) for r in sentiment_rows(loaded.obj, req.texts)],
        model=ModelRef(name=loaded.name, version=loaded.version.version),
    )


@router.get(
    "/reviews/aspects/{item_id}",
    response_model=AspectsResponse,
    summary="What customers praise and complain about",
)
def aspects(
    item_id: str = Path(..., min_length=1, max_length=200),
    top: int = Query(5, ge=1, le=20),
    model: str | None = Query(None, max_length=128),
    snap: Snapshot = Depends(get_snapshot),
) -> AspectsResponse:
    """Aspect phrases of one product's reviews with counts and example sentences."""
    from shopml.text.aspects import product_aspects

    loaded = served_model(snap, "text", model)
    state = snap_state_reviews(loaded, item_id)
    table = product_aspects(state, loaded.obj, top=top) if len(state) else None

    def pick(side: str) -> list[Aspect]:
        if table is None:
            return []
        return [
            Aspect(aspect=r.aspect, side=r.side, count=r.count, share=r.share, examples=r.examples)
            for r in table[table["side"] == side].itertuples()
        ]

    return AspectsResponse(
        item_id=item_id,
        reviews=len(state),
        praise=pick("praise"),
        complaints=pick("complaint"),
        model=ModelRef(name=loaded.name, version=loaded.version.version),
    )


def snap_state_reviews(loaded: Any, item_id: str):
    """One item's reviews from the workspace the served model was loaded with."""
    import pandas as pd

    opener = getattr(loaded.obj, "open_workspace", None)
    if opener is None:
        return pd.DataFrame(columns=["item_id", "text"])
    with opener() as ws:
        return ws.sql(
            "SELECT item_id, rating, trim(coalesce(title || '. ', '') || "
            "coalesce(text, '')) AS text FROM reviews WHERE item_id = ? "
            "ORDER BY ts DESC LIMIT 2000",
            [item_id],
        )
