"""Fast answers: JSON encoded by orjson from plain dicts the routers build out of arrays.

The routers that carry the load (recommendations, search, CLV) build their answer as a dict of
Python values straight from the model's arrays and return it encoded (:class:`FastJSON`), so no
DataFrame and no Pydantic model is built per answer, and FastAPI neither re-validates nor
re-serialises it. The endpoints keep their ``response_model`` for the OpenAPI schema, and
``tests/serve/test_fastpath.py`` validates the answers against those models. orjson writes a
non-finite float as ``null``, which is what the schemas say a non-finite score is.

Measured with ``bench/serve_cpu.py`` (server CPU time per request, one worker): see
``docs/serving.md``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
from starlette.responses import Response

if TYPE_CHECKING:  # state imports the feedback service; errors (which imports this) must not
    from shopml.serve.state import Catalogue


class FastJSON(Response):
    """A JSON response encoded by orjson (numpy arrays and scalars allowed)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


def dumps(content: Any) -> bytes:
    """``content`` as JSON bytes (orjson; non-finite floats become ``null``)."""
    return orjson.dumps(content, option=orjson.OPT_SERIALIZE_NUMPY)


# ----------------------------------------------------------------------------- catalogue joins
#: (id(catalogue), id(owner)) -> (catalogue, owner, positions); entries hold their keys' objects,
#: so an id is never reused while its entry lives. A few snapshots' worth is plenty.
_POSITIONS: dict[tuple[int, int], tuple[Catalogue, object, np.ndarray]] = {}
_POSITIONS_MAX = 8


def catalogue_positions(
    catalogue: Catalogue, owner: object, ids: Callable[[], np.ndarray]
) -> np.ndarray:
    """Catalogue row of each of a model's items (-1: not in the catalogue), computed once per
    (catalogue, model) and then reused: an answer then joins its items with one fancy index."""
    key = (id(catalogue), id(owner))
    hit = _POSITIONS.get(key)
    if hit is not None and hit[0] is catalogue and hit[1] is owner:
        return hit[2]
    pos = catalogue.index.get_indexer(np.asarray(ids(), dtype=object).astype(str)).astype(np.int64)
    if len(_POSITIONS) >= _POSITIONS_MAX:
        _POSITIONS.pop(next(iter(_POSITIONS)))
    _POSITIONS[key] = (catalogue, owner, pos)
    return pos


def item_rows(
    catalogue: Catalogue,
    item_ids: list[str],
    positions: np.ndarray,
    scores: np.ndarray,
    fields: tuple[str, ...] = ("title", "category", "price"),
    extra: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Answer items ``{item_id, rank, score, <fields>...}`` from arrays, best first.

    ``positions`` are the items' catalogue rows (-1 for an unknown item: its fields are null);
    ``extra`` adds constant keys to every item (e.g. ``explanation: None``).
    """
    cols = [catalogue.columns[f][positions].tolist() for f in fields]
    score = np.asarray(scores, dtype=np.float64)
    score_list = np.where(np.isfinite(score), score, np.nan).tolist()
    out = []
    for rank, row in enumerate(zip(item_ids, score_list, *cols, strict=True), start=1):
        item = {"item_id": row[0], "rank": rank, "score": row[1]}
        item.update(zip(fields, row[2:], strict=True))
        if extra:
            item.update(extra)
        out.append(item)
    return out
