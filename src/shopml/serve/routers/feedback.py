"""Feedback: events appended durably, then applied online to users' next recommendations."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from fastapi import APIRouter, Depends, Query, Request, Response

from shopml.serve.auth import require_write_key
from shopml.serve.deps import get_state
from shopml.serve.errors import ApiError
from shopml.serve.feedback import FeedbackLogError
from shopml.serve.schemas import FeedbackAck, FeedbackRequest, errors
from shopml.serve.state import ServeState

router = APIRouter(
    prefix="/v1",
    tags=["feedback"],
    dependencies=[Depends(require_write_key)],
    responses=errors(400, 401, 403, 413, 422, 503),
)


@router.post(
    "/feedback",
    response_model=FeedbackAck,
    status_code=202,
    summary="Record events (durable before the answer)",
    responses={200: {"description": "Committed to the workspace's events table (wait=true)"}},
)
def feedback(
    body: FeedbackRequest,
    request: Request,
    response: Response,
    wait: bool = Query(
        False, description="Answer only once the events are in the workspace's events table."
    ),
    state: ServeState = Depends(get_state),
) -> FeedbackAck:
    """Append events to this worker's feedback log and sync it to disk before answering (202):
    an acknowledged event survives a crash and reaches the workspace's ``events`` table exactly
    once (``event_id`` is the key; resending an id adds nothing). Interaction events (view, click,
    add_to_cart, purchase, wishlist, rating) change the user's next recommendations at once."""
    limit = state.settings.max_feedback_events
    if len(body.events) > limit:
        raise ApiError(
            413, "too_many_events", f"at most {limit} events per request; got {len(body.events)}"
        )
    now = dt.datetime.now(dt.UTC)
    records = []
    for e in body.events:
        rec = e.model_dump()
        rec["event_id"] = rec["event_id"] or f"fb-{uuid.uuid4().hex}"
        rec["ts"] = (rec["ts"] or now).isoformat()
        rec["attributes"] = (
            json.dumps(rec["attributes"], separators=(",", ":"))
            if rec["attributes"] is not None
            else None
        )
        records.append(rec)
    try:
        ack = state.feedback.submit(records)
    except FeedbackLogError as exc:
        raise ApiError(503, "not_durable", f"{exc}; retry with the same event_ids") from None
    state.metrics.count_feedback("logged", len(records))
    if wait:
        if state.feedback.wait_committed(ack, state.settings.feedback_wait_timeout_s):
            response.status_code = 200
    return FeedbackAck(
        accepted=len(records),
        event_ids=ack.event_ids,
        durable=True,
        committed=ack.committed,
        applied_online=ack.applied,
    )
