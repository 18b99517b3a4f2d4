"""Labelled support messages and a tiny workspace with one customer's orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

TEMPLATES = {
    "track_order": [
        "where is my order",
        "when will my parcel arrive",
        "track my package",
        "my order has not arrived",
        "status of my delivery",
    ],
    "cancel_order": [
        "cancel my order",
        "I want to cancel the purchase",
        "please cancel it",
        "stop my order",
        "cancel the order I placed",
    ],
    "get_refund": [
        "I want a refund",
        "give me my money back",
        "refund my purchase",
        "how do I get reimbursed",
        "I need a refund now",
    ],
    "recover_password": [
        "I forgot my password",
        "reset my password",
        "cannot log in password",
        "lost my password",
        "help me recover my password",
    ],
    "complaint": [
        "I want to file a complaint",
        "your service is bad I complain",
        "I have a complaint",
        "make a complaint",
        "complain about the staff",
    ],
}
PREFIX = ["", "hi, ", "hello ", "please ", "hey, "]
SUFFIX = ["", " thanks", " asap", "?", " please"]


def messages(seed: int = 0) -> tuple[list[str], np.ndarray]:
    rng = np.random.default_rng(seed)
    texts, labels = [], []
    for intent, ts in TEMPLATES.items():
        for _ in range(40):
            texts.append(rng.choice(PREFIX) + rng.choice(ts) + rng.choice(SUFFIX))
            labels.append(intent)
    return texts, np.array(labels)


@pytest.fixture(scope="session")
def labelled():
    return messages()


@pytest.fixture(scope="session")
def intent_model(labelled):
    from shopml.support.intents import IntentClassifier

    texts, y = labelled
    return IntentClassifier(
        model="tfidf", model_params={"C": 0.25, "class_weight": None}, seed=0
    ).fit(texts, y)


@pytest.fixture()
def shop(tmp_path):
    """A workspace where customer u1 has two orders (the later one cancelled)."""
    from shopml.data.workspace import Workspace

    path = tmp_path / "shop.duckdb"
    texts, y = messages(1)
    with Workspace(path) as ws:
        ws.append(
            "orders",
            pd.DataFrame(
                {
                    "order_id": ["o1", "o2", "o2"],
                    "user_id": ["u1", "u1", "u1"],
                    "ts": pd.to_datetime(["2024-01-02", "2024-02-03", "2024-02-03"], utc=True),
                    "item_id": ["i1", "i2", "i3"],
                    "quantity": [1, 2, 1],
                    "unit_price": [10.0, 5.5, 4.0],
                    "status": ["completed", "cancelled", "cancelled"],
                }
            ),
        )
        ws.append(
            "support_messages",
            pd.DataFrame(
                {
                    "message_id": [f"m{i}" for i in range(len(texts))],
                    "user_id": ["u1" if i % 7 == 0 else None for i in range(len(texts))],
                    "ts": pd.Timestamp("2024-02-05", tz="UTC"),
                    "text": texts,
                    "intent": y,
                }
            ),
        )
    return path
