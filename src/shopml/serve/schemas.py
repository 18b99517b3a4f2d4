"""Request and response bodies of the API (Pydantic), with the limits that validate them."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from shopml.data.schema import EVENT_TYPES

#: an identifier: 1-256 printable characters
Id = Annotated[str, StringConstraints(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")]
Text = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]
Category = Annotated[
    str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")
]
K = Annotated[int, Field(ge=1, le=1000, description="How many items to return (1-1000).")]
ITEM_EVENTS = tuple(t for t in EVENT_TYPES if t != "search")
_TS_MIN = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_TS_MAX = dt.datetime(2200, 1, 1, tzinfo=dt.UTC)


class Strict(BaseModel):
    """Bodies refuse unknown fields, so a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid")


class ModelRef(BaseModel):
    """Which model version answered."""

    name: str
    version: str


class Reason(BaseModel):
    """One reason for a recommendation: a past item of the user similar to it."""

    because_of: str
    title: str | None = None
    similarity: float | None = None


class Item(BaseModel):
    """A recommended, similar or found item with its catalogue fields."""

    item_id: str
    rank: int
    score: float | None = Field(
        None, description="The model's score (higher is better; null if not finite)."
    )
    title: str | None = None
    category: str | None = None
    price: float | None = None
    explanation: list[Reason] | None = None


class Recommendations(BaseModel):
    """Top-k items for a user or a history."""

    user_id: str | None = None
    model: ModelRef
    cold_start: bool = Field(
        description="True when the user had no history, so the answer is the most popular items."
    )
    source: Literal["model", "model+feedback", "feedback", "history", "popular"] = Field(
        description="What the answer was computed from: the model's training history, plus recent "
        "feedback, recent feedback only (a user the model has not seen), a given history, or popularity."
    )
    items: list[Item]
    unknown_items: list[str] | None = Field(
        None, description="Given items the model does not know (ignored)."
    )


class HistoryRequest(Strict):
    """An anonymous visitor: recommend from the items they interacted with (oldest first)."""

    item_ids: list[Id] = Field(default_factory=list, max_length=1000)
    session_id: Id | None = Field(
        None, description="Also use this session's recent feedback events."
    )
    k: K = 10
    exclude_seen: bool = True
    include_categories: list[Category] | None = Field(None, max_length=200)
    exclude_categories: list[Category] | None = Field(None, max_length=200)
    model: Id | None = None


class Similar(BaseModel):
    """Items similar to one item."""

    item_id: str
    model: ModelRef
    items: list[Item]


class CLV(BaseModel):
    """Customer lifetime value and what it rests on (times in the model's unit)."""

    user_id: str | None = None
    unit: Literal["day", "week"]
    frequency: float
    recency: float
    T: float
    monetary_value: float | None
    horizon: float
    discount_rate: float
    p_alive: float = Field(description="Probability the customer is still active.")
    expected_purchases: float = Field(description="Expected repeat purchases over the horizon.")
    expected_spend: float | None = Field(
        description="Expected spend per purchase (null without a spend model)."
    )
    clv: float | None = Field(
        description="Discounted expected value over the horizon (null without a spend model)."
    )
    percentile: float | None = Field(
        None, description="Share of the workspace's customers with a lower CLV (0-100)."
    )
    segment: Literal["high", "mid", "low"] | None = Field(
        None,
        description="Decision: high = top 20% of the workspace's customers by CLV, low = bottom 50%.",
    )
    model: ModelRef


class SearchHit(BaseModel):
    """One search result."""

    item_id: str
    rank: int
    score: float | None
    title: str | None = None
    category: str | None = None
    brand: str | None = None
    price: float | None = None


class SearchResults(BaseModel):
    """Results of a query, with the spelling-corrected query the engine searched for."""

    query: str
    corrected_query: str | None
    method: str
    items: list[SearchHit]


class FeedbackEvent(Strict):
    """One event: a view, click, add-to-cart, purchase, search, rating, wishlist or cart removal."""

    event_id: Id | None = Field(
        None,
        description="Idempotency key: resending an event with the same id adds nothing twice. "
        "Generated if absent.",
    )
    event_type: Literal[EVENT_TYPES]  # type: ignore[valid-type]
    user_id: Id | None = None
    session_id: Id | None = None
    item_id: Id | None = None
    ts: dt.datetime | None = Field(
        None, description="When it happened (UTC if no offset); default now."
    )
    quantity: float | None = Field(None, ge=0, le=1e9, allow_inf_nan=False)
    price: float | None = Field(None, ge=0, le=1e12, allow_inf_nan=False)
    query: Text | None = None
    attributes: dict[str, Any] | None = Field(None, description="Free-form JSON object.")

    @field_validator("ts")
    @classmethod
    def _utc(cls, v: dt.datetime | None) -> dt.datetime | None:
        if v is None:
            return v
        v = v.replace(tzinfo=dt.UTC) if v.tzinfo is None else v.astimezone(dt.UTC)
        if not _TS_MIN <= v < _TS_MAX:
            raise ValueError(f"ts must be between {_TS_MIN.year} and {_TS_MAX.year}")
        return v

    @field_validator("attributes")
    @classmethod
    def _json(cls, v: dict[str, Any] | None) -> dict[str, Any] | None:
        if v is not None:
            try:
                json.dumps(v, allow_nan=False).encode("utf-8")
            except (ValueError, UnicodeEncodeError) as exc:
                raise ValueError(f"attributes must be plain JSON: {exc}") from None
        return v

    @model_validator(mode="after")
    def _who_and_what(self) -> FeedbackEvent:
        if self.user_id is None and self.session_id is None:
            raise ValueError("an event needs a user_id or a session_id")
        if self.event_type in ITEM_EVENTS and self.item_id is None:
            raise ValueError(f"a {self.event_type!r} event needs an item_id")
        if self.event_type == "search" and not self.query:
            raise ValueError("a 'search' event needs a query")
        return self


class FeedbackRequest(Strict):
    """A batch of events (at most the server's limit, 1000 by default)."""

    events: list[FeedbackEvent] = Field(min_length=1, max_length=10_000)


class FeedbackAck(BaseModel):
    """The events are durable (synced to the workspace's feedback log) once this is returned."""

    accepted: int
    event_ids: list[str]
    durable: bool = Field(description="Synced to disk in the workspace's feedback log.")
    committed: bool = Field(description="Already in the workspace's events table (wait=true).")
    applied_online: int = Field(description="Events that changed users' next recommendations.")


class ReloadResult(BaseModel):
    """Model versions before and after a reload."""

    changed: bool
    previous: dict[str, str]
    current: dict[str, str]
    errors: list[str]
    seconds: float
    generation: int


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    ready: bool
    models: dict[str, str]
    capabilities: dict[str, list[str]] = Field(
        default_factory=dict,
        description="Every registered capability and the names of its loaded models.",
    )
    errors: list[str]
    generation: int
    feedback_writer: bool


class CapabilityInfo(BaseModel):
    """A registered capability: what it does, its dashboard pages and its loaded models."""

    name: str
    summary: str
    models: list[str] = Field(description="Model names the capability offers.")
    loaded: dict[str, str] = Field(description="Loaded model name -> version.")
    pages: list[dict[str, str | int]]
    api: bool


class ErrorBody(BaseModel):
    """Every error: a stable code and a message that says what is wrong (plus details)."""

    model_config = ConfigDict(extra="allow")

    error: str
    message: str


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI declarations of the error answers an endpoint can give."""
    what = {
        400: "The body is not JSON (UTF-8)",
        401: "Missing or invalid API key",
        403: "Writes disabled: the server has no API key",
        404: "Unknown user, item or model",
        413: "Request body too large",
        422: "Invalid input: the message says what is wrong",
        503: "Not ready: no model loaded, or not durable",
    }
    return {s: {"model": ErrorBody, "description": what[s]} for s in statuses}
