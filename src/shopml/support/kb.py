"""The knowledge base: answer templates per intent, with slots, read from YAML.

The default (``knowledge_base.yaml``, package data) covers the 27 e-commerce intents of Bitext's
list; a shop edits a copy. An entry has ``answer`` (slots such as ``{order_id}`` filled from the
workspace for a known customer), ``fallback`` (no customer, or a slot that cannot be filled),
``questions`` (examples embedded for retrieval) and ``handover`` (always pass to a person). The
file is read with ``yaml.safe_load``: a knowledge base holds text, never code.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from shopml.core.errors import ValidationError

DEFAULT_KB = "knowledge_base.yaml"


@dataclass(frozen=True)
class Entry:
    """One intent's answer templates."""

    intent: str
    answer: str
    fallback: str
    questions: tuple[str, ...] = ()
    handover: bool = False


def _fields(template: str) -> list[str]:
    return [f for _, f, _, _ in string.Formatter().parse(template) if f]


class KnowledgeBase:
    """Answer templates per intent; see the module docstring."""

    def __init__(
        self,
        entries: Mapping[str, Entry],
        settings: Mapping[str, Any],
        handover_answer: str,
        source: str = "",
    ) -> None:
        self.entries = dict(entries)
        self.settings = dict(settings)
        self.handover_answer = handover_answer
        self.source = source
        self._emb: np.ndarray | None = None
        self._emb_intent: np.ndarray | None = None

    # ------------------------------------------------------------------ reading
    @classmethod
    def from_text(cls, text: str, source: str = "<text>") -> KnowledgeBase:
        """Parse and check a YAML knowledge base; errors name the entry and the field."""
        import yaml

        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationError(f"{source} is not valid YAML: {exc}") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("intents"), dict):
            raise ValidationError(
                f"{source} needs a mapping 'intents: {{intent: {{answer: ...}}}}'"
            )
        settings = doc.get("settings") or {}
        if not isinstance(settings, dict):
            raise ValidationError(f"{source}: 'settings' must be a mapping")
        entries = {}
        for intent, spec in doc["intents"].items():
            if not isinstance(spec, dict) or not isinstance(spec.get("answer"), str):
                raise ValidationError(f"{source}: intent {intent!r} needs an 'answer' text")
            fallback = spec.get("fallback", spec["answer"])
            if not isinstance(fallback, str):
                raise ValidationError(f"{source}: intent {intent!r}: 'fallback' must be text")
            unknown = [f for f in _fields(fallback) if f not in settings]
            if unknown:
                raise ValidationError(
                    f"{source}: intent {intent!r}: the fallback uses {unknown}, which are not "
                    "settings (a fallback must not need customer data)"
                )
            qs = spec.get("questions") or []
            if not isinstance(qs, list) or not all(isinstance(q, str) for q in qs):
                raise ValidationError(
                    f"{source}: intent {intent!r}: 'questions' must be a list of text"
                )
            entries[str(intent)] = Entry(
                str(intent), spec["answer"], fallback, tuple(qs), bool(spec.get("handover", False))
            )
        handover = doc.get("handover_answer") or "I am passing your message to a colleague."
        return cls(entries, settings, str(handover), source)

    @classmethod
    def load(cls, path: str | Path | None = None) -> KnowledgeBase:
        """A knowledge base from ``path``, or the default one shipped with shopml."""
        if path is None:
            text = resources.files("shopml.support").joinpath(DEFAULT_KB).read_text("utf-8")
            return cls.from_text(text, f"shopml.support/{DEFAULT_KB}")
        path = Path(path)
        if not path.is_file():
            raise ValidationError(f"knowledge base {path} does not exist")
        return cls.from_text(path.read_text("utf-8-sig"), str(path))

    def to_text(self) -> str:
        """The knowledge base as YAML (what a saved assistant keeps)."""
        import yaml

        doc = {
            "settings": self.settings,
            "intents": {
                e.intent: {
                    "questions": list(e.questions),
                    "answer": e.answer,
                    "fallback": e.fallback,
                    **({"handover": True} if e.handover else {}),
                }
                for e in self.entries.values()
            },
            "handover_answer": self.handover_answer,
        }
        return yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)

    # ------------------------------------------------------------------ answering
    def render(self, intent: str, slots: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]]:
        """(answer, slots used): the ``answer`` template when every slot it names is known,
        else the ``fallback``."""
        entry = self.entries.get(intent)
        if entry is None:
            return self.handover_answer.format_map(_Missing(self.settings)), {}
        known = {**self.settings, **{k: v for k, v in (slots or {}).items() if v is not None}}
        needed = _fields(entry.answer)
        if all(f in known for f in needed):
            used = {f: known[f] for f in needed if f not in self.settings}
            return entry.answer.format_map(known), used
        return entry.fallback.format_map(_Missing(self.settings)), {}

    def handover_text(self) -> str:
        return self.handover_answer.format_map(_Missing(self.settings))

    # ------------------------------------------------------------------ retrieval
    def retrieve(self, texts: list[str], encoder: Any) -> tuple[np.ndarray, np.ndarray]:
        """Nearest knowledge-base question by embedding: (intent, cosine similarity) per text."""
        if self._emb is None:
            qs, owner = [], []
            for e in self.entries.values():
                for q in e.questions or (e.intent.replace("_", " "),):
                    qs.append(q)
                    owner.append(e.intent)
            self._emb = np.asarray(encoder.encode(qs), np.float32)
            self._emb_intent = np.array(owner)
        q = np.asarray(encoder.encode(texts), np.float32)
        sims = q @ self._emb.T
        best = sims.argmax(axis=1)
        return self._emb_intent[best], sims[np.arange(len(texts)), best]


class _Missing(dict):
    """format_map that leaves an unknown ``{slot}`` as it is instead of raising."""

    def __missing__(self, key: str) -> str:
        return "{" + key + "}"
