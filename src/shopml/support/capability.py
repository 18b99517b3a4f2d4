"""The ``support`` capability: intents, answers from a knowledge base, hand-over to a person."""

from __future__ import annotations

from shopml.core.capability import Capability, Monitor, Page, Requirement


def models() -> dict[str, type]:
    """Model name -> class: the intent classifier (its text model is a parameter) and the
    assistant that wraps it with the knowledge base."""
    from shopml.support.assistant import SupportAssistant
    from shopml.support.intents import IntentClassifier

    return {"intents": IntentClassifier, "assistant": SupportAssistant}


SPEC = Capability(
    name="support",
    summary=(
        "Customer-service assistant: intent with calibrated confidence, out-of-scope hand-over, "
        "answers from a YAML knowledge base with the customer's order filled in"
    ),
    models="shopml.support.capability:models",
    train="shopml.support.train:train",
    load="shopml.support.train:load",
    bench="shopml.benchmarks.support:run",
    steps=("shopml.pipeline.support",),
    router="shopml.serve.routers.support:router",
    batch="shopml.support.train:batch",
    cli="shopml.cli.support",
    page=Page("support", "Support", "support.html", order=70),
    requires=(
        Requirement(
            "support_messages",
            ("text", "intent"),
            min_rows=100,
            why="labelled support messages (text and intent) to learn intents from",
        ),
        Requirement(
            "orders",
            ("order_id", "user_id", "status"),
            min_rows=1,
            why="orders, to answer 'where is my order' with the customer's own order",
        ),
    ),
    monitors=(
        Monitor(
            "score_drift", "distribution of the top intent's confidence and the hand-over rate"
        ),
        Monitor("input_drift", "share of messages per predicted intent against training"),
        Monitor(
            "quality", "share of answered messages a person had to correct", "answered_accuracy"
        ),
    ),
    extra=None,
)
