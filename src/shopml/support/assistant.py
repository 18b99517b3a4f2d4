"""The customer-service assistant: intent, confidence, a drafted answer, hand-over, frustration.

For each message: the intent classifier's calibrated intent and confidence (or, without one,
the nearest knowledge-base question by embedding); the knowledge base's answer for that intent
with the customer's slots filled from the workspace when the customer is known; the frustration
flags. The message goes to a person (``handover``) when the confidence is below the threshold
chosen on validation, when the intent's entry says so (complaints, "a human please"), when the
intent has no entry, or when the customer is angry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator
from shopml.support.intents import IntentClassifier
from shopml.support.kb import KnowledgeBase
from shopml.support.slots import customer_slots
from shopml.text.base import check_texts
from shopml.text.frustration import frustration_flags

KB_FILE = "knowledge_base.yaml"
INTENTS = "intents"


@dataclass
class Answer:
    """What ``/v1/support/answer`` returns for one message."""

    intent: str
    confidence: float
    answer: str
    handover: bool
    reason: str
    slots_used: dict[str, Any] = field(default_factory=dict)
    frustration: dict[str, Any] = field(default_factory=dict)
    retrieved: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


class SupportAssistant(Estimator):
    """Intent model + knowledge base + retrieval + hand-over (see the module docstring).

    Parameters
    ----------
    retrieval_threshold : float
        Cosine similarity a retrieved knowledge-base question needs when there is no intent
        model (retrieval-only assistant).
    handover_on_anger : bool
        Pass angry customers to a person whatever the confidence.
    encoder : str
        ``minilm`` or ``tfidf`` for knowledge-base retrieval (``auto``: MiniLM when installed).
    """

    capability = "support"

    def __init__(
        self,
        retrieval_threshold: float = 0.55,
        handover_on_anger: bool = True,
        encoder: str = "auto",
    ) -> None:
        self.retrieval_threshold = retrieval_threshold
        self.handover_on_anger = handover_on_anger
        self.encoder = encoder

    def fit(
        self, kb: KnowledgeBase | None = None, intents: IntentClassifier | None = None
    ) -> SupportAssistant:
        """Assemble from a knowledge base (default: shopml's) and a fitted intent classifier
        (``None``: retrieval over the knowledge base's questions decides the intent)."""
        if intents is not None:
            intents._check_fitted()
        self.kb_ = kb or KnowledgeBase.load()
        self.intents_ = intents
        self.fitted_ = True
        return self

    @property
    def threshold(self) -> float:
        """Confidence below which a message is handed over."""
        self._check_fitted()
        return self.intents_.threshold_ if self.intents_ is not None else self.retrieval_threshold

    def _encoder(self):
        if getattr(self, "_enc", None) is None:
            from shopml.text.embeddings import get_encoder

            corpus = [q for e in self.kb_.entries.values() for q in (*e.questions, e.intent)]
            self._enc = get_encoder(self.encoder, corpus=corpus)
        return self._enc

    def answer_many(
        self,
        texts: Any,
        user_ids: list[str | None] | None = None,
        read: Callable[..., pd.DataFrame] | None = None,
    ) -> list[Answer]:
        """Answers for many messages (one batched classification); ``read(sql, params)`` is the
        workspace reader that fills a known customer's slots."""
        self._check_fitted()
        texts = check_texts(texts)
        if user_ids is not None and len(user_ids) != len(texts):
            raise ValidationError(f"user_ids must have one entry per text ({len(texts)})")
        if not texts:
            return []
        r_int, r_sim = self.kb_.retrieve(texts, self._encoder())
        if self.intents_ is not None:
            pred = self.intents_.predict(texts)
            intents, conf = pred["intent"].to_numpy(), pred["confidence"].to_numpy()
            low = conf < self.intents_.threshold_
        else:
            intents, conf = r_int, np.clip(r_sim, 0.0, 1.0)
            low = conf < self.retrieval_threshold
        # cue phrases only: the intent model is not a sentiment model (a served text model
        # could add negativity; the support capability does not depend on one being trained)
        flags = frustration_flags(texts, None)
        cache: dict[str | None, dict[str, Any]] = {}
        out = []
        for i in range(len(texts)):  # templating per message; the models ran batched above
            uid = user_ids[i] if user_ids is not None else None
            if uid not in cache:
                cache[uid] = customer_slots(read, uid) if (read is not None and uid) else {}
            entry = self.kb_.entries.get(str(intents[i]))
            fr = {
                k: (
                    bool(flags.at[i, k])
                    if k.endswith("_flag")
                    else (float(flags.at[i, k]) if k != "cues" else str(flags.at[i, k]))
                )
                for k in flags.columns
            }
            if low[i]:
                reason, ans, used = "low confidence", self.kb_.handover_text(), {}
            elif entry is None:
                reason, ans, used = "no knowledge-base entry", self.kb_.handover_text(), {}
            else:
                ans, used = self.kb_.render(entry.intent, cache[uid])
                reason = "entry asks for a person" if entry.handover else ""
                if not reason and self.handover_on_anger and fr.get("anger_flag"):
                    reason = "angry customer"
            out.append(
                Answer(
                    intent=str(intents[i]),
                    confidence=round(float(conf[i]), 4),
                    answer=ans,
                    handover=bool(reason),
                    reason=reason,
                    slots_used=used,
                    frustration=fr,
                    retrieved={"intent": str(r_int[i]), "similarity": round(float(r_sim[i]), 4)},
                )
            )
        return out

    def answer(
        self, text: str, user_id: str | None = None, read: Callable[..., pd.DataFrame] | None = None
    ) -> Answer:
        """The answer to one message."""
        if not isinstance(text, str) or not text.strip():
            raise ValidationError("the message is empty")
        return self.answer_many([text], [user_id], read)[0]

    # ------------------------------------------------------------------ persistence
    def _meta(self) -> dict[str, Any]:
        return {"has_intents": self.intents_ is not None}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._has_intents = bool(meta.get("has_intents"))

    def _save_files(self, folder: Path) -> None:
        from shopml.core.persist import atomic_write_text

        atomic_write_text(folder / KB_FILE, self.kb_.to_text())
        if self.intents_ is not None:
            self.intents_.save(folder / INTENTS)

    def _load_files(self, folder: Path) -> None:
        self.kb_ = KnowledgeBase.load(folder / KB_FILE)
        self.intents_ = (
            IntentClassifier.load(folder / INTENTS)
            if getattr(self, "_has_intents", False)
            else None
        )
