"""Train, register and load the search engine (the search capability's ``train`` and ``load``).

The engine is a registered artifact (``search/<name>/vNNNN/engine``, saved by the estimator
base: BM25 postings rebuilt from the saved items, catalogue embeddings as arrays, the fusion
weights, the LambdaMART re-ranker and the relevance regressor as LightGBM text): the service
loads the registered engine with its fusion and re-ranker and never refits it on reload.
:meth:`SearchEngine.search` keeps no state between calls, so the loaded engine serves
concurrent requests without a lock.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from shopml.core.errors import DataError, ValidationError
from shopml.registry import ModelVersion, Registry
from shopml.search.engine import SearchEngine

ENGINE_DIR = "engine"
#: the search capability's models by name
MODELS: dict[str, type] = {"engine": SearchEngine}


def model_classes() -> dict[str, type]:
    """The search capability's models by name."""
    return dict(MODELS)


def train_and_register(
    workspace: str | Path,
    registry: str | Path | Registry,
    model: str = "engine",
    *,
    encoder: str | None = None,
    name: str = "engine",
    rerank: bool = True,
    cache_dir: str | Path | None = None,
    **options: Any,
) -> ModelVersion:
    """Index the workspace's catalogue and register the engine as ``search/<name>``.

    With ``rerank`` and judgements in the workspace (``relevance_judgements``), fusion and the
    LambdaMART re-ranker are learned too; ``events`` add popularity and click-through features.
    ``encoder="minilm"`` adds semantic retrieval (the ``nlp`` extra). Other ``options`` are
    :class:`SearchEngine` parameters (``stem``, ``language``, ``depth``, ``seed``, ...).
    """
    from shopml.data.workspace import Workspace

    if model not in MODELS:
        raise ValidationError(f"no search model {model!r}; there is {sorted(MODELS)}")
    with Workspace(workspace, read_only=True) as ws:
        items = ws.df("items")
        judged = None
        if rerank and ws.count("relevance_judgements"):
            judged = ws.df(
                "relevance_judgements", columns=["query", "item_id", "relevance"]
            ).dropna()
        events = (
            ws.df("events", columns=["item_id", "event_type"]) if ws.count("events") else None
        )
        fingerprint = {"items": ws.fingerprint("items")}
    if items.empty:
        raise DataError(f"workspace {workspace} has no items to search")
    engine = MODELS[model](
        encoder=encoder, cache_dir=None if cache_dir is None else str(cache_dir), **options
    ).fit(items, judgements=judged, events=events)
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    return reg.register(
        "search",
        name,
        lambda d: engine.save(d / ENGINE_DIR),
        config={
            "model": model,
            "method": engine.default_method(),
            "encoder": encoder,
            "items": len(items),
            "judgements": 0 if judged is None else len(judged),
            "params": engine._saved_params(),
        },
        data_fingerprint=fingerprint,
    )


def load_for_serving(version: ModelVersion, ctx: Any = None) -> SearchEngine:
    """The registered engine as saved, with its fusion and re-ranker (no refit).

    ``ctx`` (a :class:`~shopml.core.capability.LoadContext`) is not needed: the engine carries
    its catalogue. Versions registered before the estimator base (``engine.json``) fail with a
    message to retrain.
    """
    return SearchEngine.load(Path(version.path) / ENGINE_DIR)


__all__ = ["ENGINE_DIR", "MODELS", "load_for_serving", "model_classes", "train_and_register"]
