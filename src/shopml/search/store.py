"""A search engine for a workspace's catalogue, fitted once and kept next to the workspace.

:func:`fit_catalogue_engine` is the one way to build an engine from an ``items`` table (the CLI
uses it; the service builds its engine with the same constructor and ``fit(items)``).
:func:`workspace_engine` reads the workspace, and keeps the fitted engine in
``<workspace>.search/<content hash>/`` (:meth:`SearchEngine.save`): a second call on unchanged
items (and judgements) loads it instead of fitting again, and the MiniLM catalogue embeddings are
cached in ``<workspace>.search/embeddings/``. Any change of the items, the judgements or the
settings changes the hash, so a stale engine is never served.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pandas as pd

from shopml.core.errors import DataError
from shopml.search.engine import SearchEngine


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
) -> tuple[SearchEngine, bool]:
    """The fitted engine for ``workspace``'s items and whether it came from the cache.

    ``rerank`` learns the LambdaMART re-ranker from the workspace's ``relevance_judgements``.
    """
    from shopml.data.workspace import Workspace

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
    key = _fingerprint(items, judgements, {"encoder": encoder, "rerank": rerank, "v": 1})
    target = root / key
    if cache and (target / "engine.json").exists():
        return SearchEngine.load(target), True
    engine = fit_catalogue_engine(items, encoder, emb_dir, judgements)
    if cache:
        try:
            engine.save(target)
        except FileExistsError:  # another process saved the same engine meanwhile
            pass
        # older engines of this workspace describe data it no longer holds
        for old in root.iterdir():
            if old.is_dir() and old.name not in (key, "embeddings") and not old.name.startswith("."):
                shutil.rmtree(old, ignore_errors=True)
    return engine, False
