"""Bitext sample customer-service training set: 8,359 e-commerce utterances, 27 intents, 11 categories.

Each line of ``Bitext_Sample_Customer_Service_Training_Dataset.csv`` (UTF-8 with a BOM, which the
reader strips) becomes a ``support_messages`` row: ``text`` = ``utterance``, ``intent`` (e.g.
``cancel_order``), ``category`` (e.g. ``ORDER``) and ``attributes = {flags}``, the linguistic-variation
tags (B basic, I interrogative, P politeness, Q colloquial, Z noise, ...). The file has no id, and
some utterances repeat under the same intent, so ``message_id`` is ``bitext-<line number>``: stable
for this file and distinct per line. The utterances are written by Bitext, not logged from real
customers, and there are no answers, users or times.
"""

from __future__ import annotations

from pathlib import Path

from shopml.data.ingest import Col, Mapping, Source, col, read_csv
from shopml.data.loaders.base import Loader

FILE = "Bitext_Sample_Customer_Service_Training_Dataset.csv"


class Bitext(Loader):
    name = "bitext"
    folder = "bitext_customer_service"
    files = (FILE,)
    description = (
        "Bitext customer service: 8,359 utterances labelled with 27 intents (support_messages)"
    )
    urls = {
        FILE: "https://raw.githubusercontent.com/mohamedmgh/Chatbot_BERT_Intent_classifaction-/"
        f"56866115daef18845de64f355e57998cc81acd68/{FILE}"
    }

    def sources(self, folder: Path) -> list[Source]:
        messages = Mapping(
            "support_messages",
            {
                "message_id": Col("'bitext-' || _row"),
                "text": col("utterance"),
                "intent": col("intent"),
                "category": col("category"),
                "attributes": Col("json_object('flags', flags)"),
            },
        )
        return [
            Source(
                name=f"{self.name}:{FILE}",
                path=folder / FILE,
                reader=read_csv(folder / FILE),
                mapping=messages,
                loader=self.name,
            )
        ]
