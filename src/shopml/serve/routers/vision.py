"""Product images: classify an uploaded photo, list similar-looking catalogue items.

``POST /v1/images/classify`` takes the image as the raw request body (``Content-Type:
image/jpeg``, ``image/png``, ...; e.g. ``curl --data-binary @photo.jpg``), so uploads need no
multipart parser; the service's body limit (``SHOPML_SERVE_MAX_BODY``, 1 MiB by default)
bounds it. An unreadable or truncated image is a 422 with the decoder's reason.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, Depends, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from shopml.core.errors import DataError, ValidationError
from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.errors import ApiError
from shopml.serve.responses import FastJSON, item_rows
from shopml.serve.schemas import K, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1/images",
    tags=["vision"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 413, 422, 503),
)

FIELDS = ("title", "category", "brand", "price")


def classify_bytes(service, body: bytes, top: int, similar: int) -> dict:
    """The answer for one uploaded image (runs in a worker thread: decoding and the network
    are CPU work)."""
    try:
        res = service.classify([body], k=top)[0]
        out = {"label": res["label"], "confidence": res["confidence"], "top": res["top"]}
        if similar:
            ids, scores = service.similar_to_image(body, similar)
            out["similar"] = (ids.tolist(), scores.tolist())
        return out
    except (DataError, ValidationError) as exc:
        raise ApiError(422, "invalid_image", str(exc)) from None


@router.post("/classify", summary="Classify an uploaded product photo")
async def classify(
    request: Request,
    top: int = Query(3, ge=1, le=100, description="Classes returned, most probable first."),
    similar: int = Query(
        0, ge=0, le=100, description="Also return this many similar-looking items."
    ),
    model: str | None = Query(
        None, max_length=128, description="Model name (default: the default)."
    ),
    snap: Snapshot = Depends(get_snapshot),
) -> FastJSON:
    """The image's most probable class with its probability, the runners-up, and optionally
    the catalogue items that look most like it."""
    loaded = served_model(snap, "vision", model)
    ctype = request.headers.get("content-type", "")
    if ctype.startswith(("multipart/", "application/json", "application/x-www-form-urlencoded")):
        raise ApiError(
            422,
            "invalid_request",
            "send the image itself as the request body (Content-Type: image/jpeg, image/png, ...)",
        )
    body = await request.body()
    if not body:
        raise ApiError(422, "invalid_request", "the request body is empty: send the image bytes")
    out = await run_in_threadpool(classify_bytes, loaded.obj, body, top, similar)
    if "similar" in out:
        ids, scores = out.pop("similar")
        out["similar"] = _items(snap, ids, np.asarray(scores))
    return FastJSON({"model": loaded.name, "version": loaded.version.version, **out})


@router.get("/similar/{item_id}", summary="Catalogue items that look like an item")
async def similar_items(
    item_id: str = Path(..., min_length=1, max_length=500),
    k: K = 10,
    model: str | None = Query(
        None, max_length=128, description="Model name (default: the default)."
    ),
    snap: Snapshot = Depends(get_snapshot),
) -> FastJSON:
    """The ``k`` items whose photos are closest to ``item_id``'s (cosine of the image
    embeddings stored with the model), best first."""
    loaded = served_model(snap, "vision", model)
    try:
        ids, scores = loaded.obj.similar(item_id, k)
    except KeyError:
        raise ApiError(
            404, "unknown_item", f"item {item_id!r} has no image embedding in this model"
        ) from None
    return FastJSON(
        {"item_id": item_id, "model": loaded.name, "items": _items(snap, ids.tolist(), scores)}
    )


def _items(snap: Snapshot, ids: list[str], scores: np.ndarray) -> list[dict]:
    cat = snap.catalogue
    pos = cat.index.get_indexer(np.asarray(ids, dtype=object)).astype(np.int64)
    return item_rows(cat, ids, pos, scores, FIELDS)
