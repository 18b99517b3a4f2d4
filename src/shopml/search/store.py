"""A search engine for a workspace's catalogue, fitted once and kept in the model registry.

:func:`fit_catalogue_engine` is the one way to build an engine from an ``items`` table.
:func:`workspace_engine` (the CLI's) reuses the latest registered ``search/engine`` when it was
fitted on the same items, judgements and settings (a content hash in its config), and otherwise
fits and registers a new version: one cache, the registry, which the service also serves from.
The MiniLM catalogue embeddings are cached per text in ``<workspace>.search/embeddings/``.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pandas as pd

from shopml.core.errors import DataError
from shopml.search.engine import SearchEngine
from shopml.search.train import ENGINE_DIR


def cache_root(workspace: str | Path) -> Path:
    """Where a workspace's fitted search engines live (``<workspace>.search``)."""
    return Path(f"{workspace}.search")


def fit_catalogue_engine(
    items: pd.DataFrame,
    encoder: str | None = None,
    cache_dir: str | Path | None = None,
    judgements: pd.DataFrame | None = None,
    events: pd.DataFrame | None = None,
) -> SearchEngine:
    """Index ``items`` (lexical; ``encoder="minilm"`` adds semantic retrieval); with
    ``judgements`` (query, item_id, relevance) also learn fusion and the re-ranker."""
    engine = SearchEngine(encoder=encoder, cache_dir=None if cache_dir is None else str(cache_dir))
    return engine.fit(items, judgements=judgements, events=events)


def _fingerprint(items: pd.DataFrame, judgements: pd.DataFrame | None, settings: dict) -> str:
    h = hashlib.sha256(json.dumps(settings, sort_keys=True).encode())
    h.update(pd.util.hash_pandas_object(items.astype(str), index=False).to_numpy().tobytes())
    if judgements is not None:
        h.update(pd.util.hash_pandas_object(judgements.astype(str), index=False).to_numpy().tobytes())
    return h.hexdigest()[:24]


def workspace_engine(
    workspace: str | Path,
    encoder: str | None = None,
    rerank: bool = False,
    cache: bool = True,
    registry: str | Path | None = None,
    name: str = "engine",
) -> tuple[SearchEngine, bool]:
    """The fitted engine for ``workspace``'s items and whether it was already registered.

    The model registry is the one place engines are kept (the service serves the same
    versions): the latest ``search/<name>`` is reused when it was fitted on the same items (and
    judgements) with the same settings; otherwise the engine is fitted and registered as a new
    version. ``registry`` defaults to ``<workspace>.search``; ``cache=False`` fits without
    reading or registering. ``rerank`` learns the LambdaMART re-ranker from the workspace's
    ``relevance_judgements``.
    """
    from shopml.data.workspace import Workspace
    from shopml.registry import ModelNotFoundError, Registry

    path = Path(workspace)
    if not path.exists():
        raise DataError(f"workspace {path} does not exist")
    with Workspace(path, read_only=True) as ws:
        items = ws.df("items")
        judgements = None
        if rerank:
            if ws.count("relevance_judgements") == 0:
                raise DataError(
                    f"workspace {path} has no relevance_judgements to learn the re-ranker from"
                )
            judgements = ws.df("relevance_judgements", columns=["query", "item_id", "relevance"])
    if items.empty:
        raise DataError(f"workspace {path} has no items to search")
    root = cache_root(path)
    emb_dir = root / "embeddings" if encoder is not None else None
    key = _fingerprint(items, judgements, {"encoder": encoder, "rerank": rerank, "v": 3})
    reg = Registry(registry if registry is not None else root)
    if cache:
        try:
            latest = reg.latest("search", name)
        except ModelNotFoundError:
            latest = None
        if latest is not None and latest.config.get("cache_key") == key:
            return SearchEngine.load(latest.path / ENGINE_DIR), True
    engine = fit_catalogue_engine(items, encoder, emb_dir, judgements)
    if cache:
        reg.register(
            "search",
            name,
            lambda d: engine.save(d / ENGINE_DIR),
            config={
                "model": "engine",
                "method": engine.default_method(),
                "encoder": encoder,
                "items": len(items),
                "cache_key": key,
            },
        )
    return engine, False
