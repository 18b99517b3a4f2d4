"""Train a recommender on a workspace's interactions and store it in the model registry.

``train_and_register(workspace, registry, "ease", {"l2": 200})`` reads the interactions
(:func:`load_interactions`), fits the model with the catalogue (so category filters work), and
registers it under ``recommend/<model_name>``. The version's config records what the server needs
to know about the data: the source, the counts and ``data_until`` (the newest interaction in
training), so that feedback newer than that can be applied on top without a retrain.
"""

from __future__ import annotations

import importlib
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from shopml.core.errors import DataError, ValidationError
from shopml.data.locking import connect as _open_read_only
from shopml.data.workspace import Workspace
from shopml.recommend.base import Recommender
from shopml.registry import ModelVersion, Registry

#: model name (the registry name) -> (module, class)
MODELS: dict[str, tuple[str, str]] = {
    "popularity": ("shopml.recommend.popularity", "Popularity"),
    "itemknn": ("shopml.recommend.knn", "ItemKNN"),
    "userknn": ("shopml.recommend.knn", "UserKNN"),
    "als": ("shopml.recommend.als", "ALS"),
    "ease": ("shopml.recommend.ease", "EASE"),
    "ease-decay": ("shopml.recommend.time_decay", "TimeDecayEASE"),
    "tifu-knn": ("shopml.recommend.knn", "TIFUKNN"),
    "session-knn": ("shopml.recommend.session_knn", "SessionKNN"),
    "bpr": ("shopml.recommend.bpr", "BPR"),
    "neumf": ("shopml.recommend.neumf", "NeuMF"),
    "sasrec": ("shopml.recommend.sasrec", "SASRec"),
    "two-tower": ("shopml.recommend.two_tower", "TwoTower"),
}

#: event types that say a user was interested in an item (searches and cart removals do not)
INTERACTION_EVENTS = ("view", "click", "add_to_cart", "purchase", "wishlist", "rating")
SOURCES = ("auto", "events", "orders")
ITEM_COLUMNS = ["item_id", "title", "category", "brand", "price"]


def model_class(model_name: str) -> type[Recommender]:
    """The recommender class registered under ``model_name`` (see :data:`MODELS`)."""
    if model_name not in MODELS:
        raise ValidationError(f"unknown recommender {model_name!r}; choose one of {sorted(MODELS)}")
    module, cls = MODELS[model_name]
    try:
        return getattr(importlib.import_module(module), cls)
    except (ImportError, AttributeError) as exc:
        raise ValidationError(
            f"recommender {model_name!r} ({module}.{cls}) is not available: {exc}"
        ) from exc


def parse_params(text: str | None) -> dict[str, Any]:
    """``"l2=200,max_items=5000"`` -> ``{"l2": 200, "max_items": 5000}``; values are JSON
    literals where they parse as one (numbers, true/false, null), strings otherwise."""
    if not text:
        return {}
    out: dict[str, Any] = {}
    for part in text.split(","):
        key, sep, value = part.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ValidationError(f"parameter {part!r} is not key=value (in {text!r})")
        try:
            out[key] = json.loads(value.strip())
        except json.JSONDecodeError:
            out[key] = value.strip()
    return out


def load_interactions(ws: Workspace, source: str = "auto") -> tuple[pd.DataFrame, str]:
    """Interactions ``user_id, item_id, ts`` of known users, and the source they came from.

    ``events``: item events of :data:`INTERACTION_EVENTS`; ``orders``: completed order lines;
    ``auto``: events where the workspace has any, orders otherwise.
    """
    if source not in SOURCES:
        raise ValidationError(f"source must be one of {SOURCES}, got {source!r}")
    types = ", ".join(f"'{t}'" for t in INTERACTION_EVENTS)
    queries = {
        "events": "SELECT user_id, item_id, ts FROM events WHERE user_id IS NOT NULL "
        f"AND item_id IS NOT NULL AND event_type IN ({types})",
        "orders": "SELECT user_id, item_id, ts FROM orders WHERE status = 'completed' "
        "AND user_id IS NOT NULL AND item_id IS NOT NULL",
    }
    order = [source] if source != "auto" else ["events", "orders"]
    for name in order:
        frame = ws.sql(queries[name])
        if len(frame):
            return frame, name
    raise DataError(
        f"workspace {ws.path} has no interactions of known users in {' or '.join(order)}; "
        "ingest or simulate a shop first"
    )


def train_and_register(
    workspace: str | Path | Workspace,
    registry: str | Path | Registry,
    model_name: str,
    params: dict[str, Any] | None = None,
    source: str = "auto",
    fit: Callable[[Recommender, pd.DataFrame, pd.DataFrame | None], Recommender] | None = None,
    extra_config: dict[str, Any] | None = None,
    extra_metrics: dict[str, Any] | None = None,
) -> ModelVersion:
    """Fit ``model_name`` with ``params`` on the workspace and register it as ``recommend/<name>``.

    ``fit(model, interactions, items)`` replaces ``model.fit`` (e.g. data-parallel training on
    Ray, :mod:`shopml.distributed.train`); ``extra_config`` / ``extra_metrics`` are recorded in
    the version's meta.json (e.g. the hyper-parameter search that chose ``params``).
    """
    klass = model_class(model_name)
    params = dict(params or {})
    try:
        model = klass(**params)
    except TypeError as exc:
        raise ValidationError(f"bad parameters for {model_name}: {exc}") from None
    reg = registry if isinstance(registry, Registry) else Registry(registry)
    own = not isinstance(workspace, Workspace)
    if own and not Path(workspace).exists():
        raise DataError(f"no workspace at {workspace}")
    ws = _open_read_only(Path(workspace)) if own else workspace
    try:
        frame, used = load_interactions(ws, source)
        items = ws.df("items", columns=ITEM_COLUMNS)
        fingerprint = {t: ws.fingerprint(t) for t in ("events", "orders", "items")}
    finally:
        if own:
            ws.close()
    t0 = time.perf_counter()
    catalogue = items if len(items) else None
    model = fit(model, frame, catalogue) if fit is not None else model.fit(frame, items=catalogue)
    fit_seconds = time.perf_counter() - t0
    ts = pd.to_datetime(frame["ts"], utc=True)
    config = {
        "model": model_name,
        "class": f"{klass.__module__}.{klass.__qualname__}",
        "params": model.get_params(),
        "source": used,
        "data_until": ts.max().isoformat() if ts.notna().any() else None,
        "n_users": len(model.users_),
        "n_items": len(model.items_),
        "n_interactions": int(model.train_.nnz),
        **(extra_config or {}),
    }
    return reg.register(
        "recommend",
        model_name,
        model.save,
        config=config,
        metrics={"fit_seconds": round(fit_seconds, 4), **(extra_metrics or {})},
        data_fingerprint=fingerprint,
    )


__all__ = [
    "INTERACTION_EVENTS",
    "MODELS",
    "load_interactions",
    "model_class",
    "parse_params",
    "train_and_register",
]


def model_classes() -> dict[str, type[Recommender]]:
    """Every recommender class by name (the names of :data:`MODELS`)."""
    return {name: model_class(name) for name in MODELS}


def train(
    workspace: str | Path, registry: str | Path | Registry, model: str = "ease", **options: Any
) -> ModelVersion:
    """The capability spec's ``train``: options are ``params``, ``source`` and the rest of
    :func:`train_and_register`'s keywords."""
    return train_and_register(workspace, registry, model, **options)


def load_for_serving(version: ModelVersion, ctx: Any) -> Recommender:
    """The capability spec's ``load``: the registered recommender as saved."""
    return Recommender.load(version.path)
