"""Train, load and batch-run the support assistant for the ``support`` capability spec.

``train`` fits an :class:`~shopml.support.intents.IntentClassifier` on the workspace's labelled
``support_messages`` (or a file: ``data=``, ``text_col=``, ``label_col=``), assembles the
assistant with the knowledge base (shopml's default or ``kb=`` a shop's YAML) and registers it as
``support/<name>``; the validation metrics, temperature and hand-over threshold go into its
meta. ``batch`` drafts an answer for every message of a workspace into Parquet.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from shopml.core.errors import DataError
from shopml.core.persist import atomic_write_parquet
from shopml.support.assistant import SupportAssistant
from shopml.support.intents import IntentClassifier
from shopml.support.kb import KnowledgeBase

MESSAGES_SQL = "SELECT message_id, user_id, ts, text, intent FROM support_messages"


def training_data(
    workspace: str | Path | None, data: str | Path | None, text_col: str, label_col: str
) -> tuple[list[str], Any, dict[str, Any]]:
    """(texts, intents, info) from a file or the workspace's labelled messages."""
    if data is not None:
        from shopml.text.io import read_labelled

        t = read_labelled(data, text_col, label_col=label_col)
        return (
            t.texts,
            t.y,
            {"source": str(data), "skipped": t.skipped["reason"].value_counts().to_dict()},
        )
    from shopml.data.workspace import Workspace

    if workspace is None or not Path(workspace).exists():
        raise DataError(f"workspace {workspace} does not exist")
    with Workspace(workspace, read_only=True) as ws:
        df = ws.sql(MESSAGES_SQL)
        fp = ws.fingerprint("support_messages")
    empty = df["text"].fillna("").str.strip() == ""
    df = df[~empty & df["intent"].notna()]
    if len(df) < 20 or df["intent"].nunique() < 2:
        raise DataError(
            "the workspace has fewer than 20 support messages with text and an intent "
            "(or one intent only)"
        )
    return (
        df["text"].astype(str).tolist(),
        df["intent"].astype(str).to_numpy(),
        {"source": str(workspace), "skipped": {"empty text": int(empty.sum())}, "fingerprint": fp},
    )


def train(
    workspace: str | Path | None,
    registry: Any,
    model: str = "tfidf",
    name: str | None = None,
    params: dict[str, Any] | None = None,
    data: str | Path | None = None,
    text_col: str = "text",
    label_col: str = "intent",
    kb: str | Path | None = None,
    seed: int = 0,
    target_accuracy: float = 0.98,
    handover_quantile: float = 0.05,
    **_: Any,
):
    """Fit the intent model, assemble the assistant and register ``support/<name>``."""
    from shopml.registry import Registry

    texts, y, info = training_data(workspace, data, text_col, label_col)
    knowledge = KnowledgeBase.load(kb)
    clf = IntentClassifier(
        model=model,
        model_params=params,
        seed=seed,
        target_accuracy=target_accuracy,
        handover_quantile=handover_quantile,
    )
    clf.fit(texts, y)
    assistant = SupportAssistant().fit(knowledge, clf)
    missing = sorted(set(clf.classes_) - set(knowledge.entries))
    v = clf.validation_
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    return reg.register(
        "support",
        name or "assistant",
        lambda folder: assistant.save(folder),
        config={
            "model": model,
            "params": params or {},
            "source": info["source"],
            "knowledge_base": knowledge.source,
            "intents_without_answer": missing,
            "skipped": info.get("skipped", {}),
        },
        metrics={
            "validation_rows": v["rows"],
            "validation_accuracy": v["accuracy"],
            "validation_answered_share": v["answered_share"],
            "validation_answered_accuracy": v["answered_accuracy"],
            "handover_threshold": v["threshold"],
            "temperature": v["temperature"],
            "intents": len(clf.classes_),
        },
        data_fingerprint=info.get("fingerprint"),
    )


class ServedAssistant:
    """What the service keeps: the assistant and a way to read the workspace for slots."""

    def __init__(self, assistant: SupportAssistant, open_workspace: Any = None) -> None:
        self.assistant = assistant
        self.open_workspace = open_workspace

    def answer_many(self, texts: list[str], user_ids: list[str | None] | None = None) -> list:
        """Answers with slots read from the workspace when any customer is known."""
        if self.open_workspace is None or not any(user_ids or []):
            return self.assistant.answer_many(texts, user_ids, None)
        with self.open_workspace() as ws:
            return self.assistant.answer_many(texts, user_ids, ws.sql)


def load(version: Any, ctx: Any = None) -> ServedAssistant:
    """The registered assistant (no refitting), with the service's workspace for slots."""
    return ServedAssistant(
        SupportAssistant.load(version.path), getattr(ctx, "open_workspace", None)
    )


def answer_frame(assistant: SupportAssistant, messages: pd.DataFrame, read: Any) -> pd.DataFrame:
    """Intent, confidence, hand-over, frustration and drafted answer for every message."""
    messages = messages[messages["text"].fillna("").str.strip() != ""].reset_index(drop=True)
    users = messages["user_id"].where(messages["user_id"].notna(), None).tolist()
    answers = assistant.answer_many(messages["text"].astype(str).tolist(), users, read)
    out = pd.DataFrame(
        {
            "message_id": messages["message_id"].astype(str),
            "user_id": messages["user_id"],
            "intent": [a.intent for a in answers],
            "confidence": [a.confidence for a in answers],
            "handover": [a.handover for a in answers],
            "reason": [a.reason for a in answers],
            "answer": [a.answer for a in answers],
        }
    )
    for flag in ("anger", "disappointment", "urgency"):
        out[f"{flag}_flag"] = [bool(a.frustration.get(f"{flag}_flag")) for a in answers]
    return out


def batch(
    registry: Any,
    workspace: str | Path,
    out: str | Path,
    engine: str = "local",
    name: str = "assistant",
    **_: Any,
) -> Path:
    """Draft answers for every message of ``workspace`` with ``support/<name>`` into Parquet."""
    from shopml.data.workspace import Workspace
    from shopml.registry import Registry

    reg = registry if isinstance(registry, Registry) else Registry(registry)
    version = reg.verify(reg.latest("support", name))
    assistant = SupportAssistant.load(version.path)
    with Workspace(workspace, read_only=True) as ws:
        msgs = ws.sql(MESSAGES_SQL)
        frame = answer_frame(assistant, msgs, ws.sql)
    frame["model"] = f"support/{name}/{version.version}"
    return atomic_write_parquet(out, frame)
