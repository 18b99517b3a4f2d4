"""The support assistant: ``POST /v1/support/answer`` (intent, confidence, drafted answer,
hand-over flag, the slots used) from the registered ``support`` model; nothing is refitted."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from shopml.serve.auth import require_read_key
from shopml.serve.deps import get_snapshot, served_model
from shopml.serve.errors import ApiError
from shopml.serve.schemas import ModelRef, errors
from shopml.serve.state import Snapshot

router = APIRouter(
    prefix="/v1",
    tags=["support"],
    dependencies=[Depends(require_read_key)],
    responses=errors(401, 404, 422, 503),
)


class SupportQuestion(BaseModel):
    """One customer message."""

    text: str = Field(
        ...,
        min_length=1,
        max_length=5000,
        pattern=r"^[^\x00]*$",
        description="The customer's message.",
    )
    user_id: str | None = Field(
        None, max_length=200, description="The customer, when known: fills their order slots."
    )
    model: str | None = Field(None, max_length=128, description="Registered model name.")


class Frustration(BaseModel):
    anger: float
    disappointment: float
    urgency: float
    anger_flag: bool
    disappointment_flag: bool
    urgency_flag: bool
    cues: str


class SupportAnswer(BaseModel):
    """The assistant's draft for one message."""

    intent: str
    confidence: float
    answer: str
    handover: bool
    reason: str = Field(description="Why the message goes to a person ('' when it does not).")
    threshold: float = Field(description="Confidence below which messages are handed over.")
    slots_used: dict[str, Any]
    frustration: Frustration
    retrieved: dict[str, Any] = Field(description="Nearest knowledge-base question's intent.")
    model: ModelRef


def answer_one(served: Any, question: SupportQuestion) -> dict[str, Any]:
    """The router's work without FastAPI: run the served assistant on one question."""
    if not question.text.strip():
        raise ApiError(422, "invalid_request", "text: the message is blank")
    ans = served.answer_many([question.text], [question.user_id])[0]
    return {**ans.as_dict(), "threshold": float(served.assistant.threshold)}


@router.post("/support/answer", response_model=SupportAnswer, summary="Draft an answer")
def support_answer(
    question: SupportQuestion, snap: Snapshot = Depends(get_snapshot)
) -> SupportAnswer:
    """Intent with calibrated confidence, the knowledge base's answer with the customer's slots,
    and whether a person should take over."""
    loaded = served_model(snap, "support", question.model)
    body = answer_one(loaded.obj, question)
    return SupportAnswer(**body, model=ModelRef(name=loaded.name, version=loaded.version.version))


class IncomingMessage(BaseModel):
    """A recorded message with the assistant's draft."""

    message_id: str
    user_id: str | None
    ts: str | None
    text: str
    intent: str
    confidence: float
    handover: bool
    reason: str
    answer: str
    anger: bool
    disappointment: bool
    urgency: bool


class IncomingMessages(BaseModel):
    items: list[IncomingMessage]
    threshold: float
    model: ModelRef


def incoming(served: Any, limit: int) -> list[dict[str, Any]]:
    """The latest ``limit`` recorded messages with intent, frustration and the drafted answer."""
    from shopml.support.train import answer_frame

    if served.open_workspace is None:
        return []
    with served.open_workspace() as ws:
        msgs = ws.sql(
            "SELECT message_id, user_id, ts, text FROM support_messages "
            "ORDER BY ts DESC NULLS LAST, message_id LIMIT ?",
            [limit],
        )
        frame = answer_frame(served.assistant, msgs, ws.sql)
    frame = frame.merge(
        msgs[["message_id", "ts", "text"]].astype({"message_id": str}), on="message_id", how="left"
    )
    rows = []
    for r in frame.itertuples(index=False):
        rows.append(
            {
                "message_id": r.message_id,
                "user_id": None if r.user_id is None or r.user_id != r.user_id else str(r.user_id),
                "ts": None if r.ts is None or r.ts != r.ts else str(r.ts),
                "text": str(r.text),
                "intent": r.intent,
                "confidence": float(r.confidence),
                "handover": bool(r.handover),
                "reason": r.reason,
                "answer": r.answer,
                "anger": bool(r.anger_flag),
                "disappointment": bool(r.disappointment_flag),
                "urgency": bool(r.urgency_flag),
            }
        )
    return rows


@router.get(
    "/support/messages",
    response_model=IncomingMessages,
    summary="Recent messages with drafted answers",
)
def support_messages(
    limit: int = Query(20, ge=1, le=200),
    model: str | None = Query(None, max_length=128),
    snap: Snapshot = Depends(get_snapshot),
) -> IncomingMessages:
    """The workspace's latest support messages, each with intent, frustration and a draft."""
    loaded = served_model(snap, "support", model)
    return IncomingMessages(
        items=[IncomingMessage(**r) for r in incoming(loaded.obj, limit)],
        threshold=float(loaded.obj.assistant.threshold),
        model=ModelRef(name=loaded.name, version=loaded.version.version),
    )
