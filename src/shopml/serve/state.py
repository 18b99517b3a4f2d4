"""What a server process serves: an immutable snapshot of loaded models, swapped atomically.

A request takes ``state.snapshot`` once and uses only that object, so a reload (which builds a
complete new :class:`Snapshot` beside the old one, then replaces one reference) never changes
models under a request in flight: requests that started before the swap finish on the old
versions, later ones get the new. A model that fails to load during a reload keeps its previous
version in the new snapshot, and the failure is reported.

Reload everywhere: ``POST /v1/admin/reload`` reloads the process that receives it and bumps
``<runtime>/reload.gen``; every other worker process sees the new generation within a second and
reloads too.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from functools import cached_property
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from shopml import capabilities
from shopml.core.capability import LoadContext
from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_text
from shopml.recommend.train import INTERACTION_EVENTS
from shopml.registry import ModelVersion, Registry
from shopml.serve import monitoring
from shopml.serve.feedback import FeedbackService, Overlay
from shopml.serve.metrics import ServeMetrics
from shopml.serve.settings import ServeSettings
from shopml.serve.workspace_io import open_workspace

try:
    import fcntl
except ImportError:  # pragma: no cover
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger("shopml.serve")

CATALOGUE_COLUMNS = ["item_id", "title", "description", "category", "brand", "price", "attributes"]
RELOAD_GEN = "reload.gen"
#: how many recent feedback events of the workspace seed the overlay at load
OVERLAY_SEED_LIMIT = 200_000


class Catalogue:
    """Item fields for answers: one vectorised index lookup per request, no frames."""

    FIELDS = ("title", "category", "brand", "price")

    def __init__(self, items: pd.DataFrame) -> None:
        items = items.drop_duplicates("item_id")
        self.index = pd.Index(items["item_id"].astype(str))
        self.columns = {
            c: np.append(
                items[c].astype(object).where(items[c].notna(), None).to_numpy(dtype=object), None
            )
            for c in self.FIELDS
        }  # a trailing None answers unknown items (position -1)

    def __len__(self) -> int:
        return len(self.index)

    def describe(self, item_ids: list[str] | np.ndarray) -> dict[str, list]:
        """Fields of the given items, in order (unknown items: None)."""
        pos = self.index.get_indexer(np.asarray(item_ids, dtype=object))
        return {c: col[pos].tolist() for c, col in self.columns.items()}

    def title(self, item_id: str) -> str | None:
        return self.describe([item_id])["title"][0]


@dataclass(frozen=True)
class Loaded:
    """One served model: the registry version and what its capability's ``load`` returned."""

    capability: str
    name: str
    version: ModelVersion
    obj: Any

    @property
    def model(self) -> Any:
        return self.obj

    @property
    def ref(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version.version}

    @cached_property  # read on every recommendation request: parse once
    def data_until(self) -> pd.Timestamp | None:
        """The newest interaction the model was trained on (feedback after it is applied online)."""
        return _data_until(self.version)


#: kept for the routers' type hints: a served recommender is a :class:`Loaded`
LoadedRecommender = Loaded


@dataclass(frozen=True)
class Snapshot:
    """Everything one request needs, never mutated after it is built.

    ``models`` maps capability -> model name -> :class:`Loaded`, for every capability spec
    that has a ``load`` and every model of it in the registry.
    """

    generation: int
    loaded_at: float
    models: Mapping[str, Mapping[str, Loaded]]
    defaults: Mapping[str, str]
    catalogue: Catalogue
    errors: tuple[str, ...] = ()

    def served(self, capability: str) -> Mapping[str, Loaded]:
        """The loaded models of a capability (empty if none)."""
        return self.models.get(capability, MappingProxyType({}))

    @property
    def recommenders(self) -> Mapping[str, Loaded]:
        return self.served("recommend")

    @property
    def default_recommender(self) -> str | None:
        return self.defaults.get("recommend")

    def versions(self) -> dict[str, str]:
        """``capability/name -> version`` of every loaded model."""
        return {
            f"{cap}/{name}": loaded.version.version
            for cap, models in self.models.items()
            for name, loaded in models.items()
        }

    def registry_versions(self) -> dict[str, str]:
        """``registry folder/name -> version`` of every loaded model (where it is stored,
        which differs from where it is served for versions kept in a legacy place)."""
        return {
            f"{loaded.version.capability}/{loaded.version.name}": loaded.version.version
            for models in self.models.values()
            for loaded in models.values()
        }

    @property
    def ready(self) -> bool:
        return any(self.models.values())


# --------------------------------------------------------------------------- loading


def _read_workspace(settings: ServeSettings, seed_after: pd.Timestamp | None) -> dict[str, pd.DataFrame]:
    """The catalogue and recent interaction events (to seed the overlay), in one visit."""
    out: dict[str, pd.DataFrame] = {}
    with open_workspace(settings.workspace, read_only=True) as ws:
        out["items"] = ws.df("items", columns=CATALOGUE_COLUMNS)
        if seed_after is not None:
            types = ", ".join(f"'{t}'" for t in INTERACTION_EVENTS)
            out["recent"] = ws.sql(
                "SELECT * FROM (SELECT * FROM events WHERE ts > ? AND item_id IS NOT NULL "
                f"AND event_type IN ({types}) ORDER BY ts DESC LIMIT {OVERLAY_SEED_LIMIT}) ORDER BY ts",
                [seed_after.to_pydatetime()],
            )
    return out


def _data_until(version: ModelVersion) -> pd.Timestamp | None:
    value = (version.meta.get("config") or {}).get("data_until")
    if not value:
        return None
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError):
        return None
    return ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")


def _placement(listed: list[ModelVersion]) -> dict[tuple[str, str], ModelVersion]:
    """``(capability, model name) -> version`` for every registered version a spec serves.

    A version sits under ``<capability>/<name>``, or under an older place a spec lists in its
    ``legacy`` (CLV under ``predict/clv``); the newer place wins where both exist.
    """
    specs = capabilities.specs()
    legacy = {place: spec.name for spec in specs.values() for place in spec.legacy}
    out: dict[tuple[str, str], ModelVersion] = {}
    for mv in listed:
        place = f"{mv.capability}/{mv.name}"
        if place in legacy:
            out.setdefault((legacy[place], mv.name), mv)
        elif mv.capability in specs and specs[mv.capability].load is not None:
            out[(mv.capability, mv.name)] = mv
    return out


def load_models(
    settings: ServeSettings, previous: Snapshot | None
) -> tuple[dict[str, dict[str, Loaded]], list[str]]:
    """Every served model of the registry, loaded by its capability's ``load`` (a version that
    is already loaded is reused; one that fails keeps its previous version and is reported)."""
    registry = Registry(settings.registry)
    errors: list[str] = []
    old = previous.models if previous is not None else {}
    models: dict[str, dict[str, Loaded]] = {}
    try:
        listed = registry.list()
    except Exception as exc:  # noqa: BLE001 - an unreadable registry keeps the old models
        errors.append(f"registry {settings.registry}: {exc}")
        return {c: dict(m) for c, m in old.items()}, errors
    ctx = LoadContext(
        workspace=settings.workspace,
        open_workspace=lambda: open_workspace(settings.workspace, read_only=True),
        settings=MappingProxyType(
            {k: v for k, v in asdict(settings).items() if not k.endswith("_key")}
        ),
    )
    for (cap, name), mv in _placement(listed).items():
        kept = old.get(cap, {}).get(name)
        if kept is not None and kept.version.path == mv.path:
            models.setdefault(cap, {})[name] = kept  # unchanged: reuse the loaded model
            continue
        try:
            registry.verify(mv)
            obj = capabilities.get(cap).part("load")(mv, ctx)
            models.setdefault(cap, {})[name] = Loaded(cap, name, mv, obj)
            problem = getattr(obj, "error", None)
            if isinstance(problem, str) and problem:
                errors.append(f"{cap}/{name}/{mv.version}: {problem}")
        except Exception as exc:  # noqa: BLE001 - report and keep serving the previous one
            errors.append(f"{cap}/{name}/{mv.version}: {type(exc).__name__}: {exc}")
            if kept is not None:
                models.setdefault(cap, {})[name] = kept
    return models, errors


def load_snapshot(
    settings: ServeSettings, generation: int, previous: Snapshot | None = None
) -> tuple[Snapshot, pd.DataFrame | None]:
    """Build a snapshot of the registry's latest versions; also returns events to seed the overlay."""
    models, errors = load_models(settings, previous)
    recs = models.get("recommend", {})
    seeds = [r.data_until for r in recs.values() if r.data_until is not None]
    data = _read_workspace(settings, seed_after=min(seeds) if seeds else None)
    defaults: dict[str, str] = {}
    for cap, loaded in models.items():
        if loaded:  # the most recently registered model answers by default
            defaults[cap] = max(loaded.values(), key=lambda r: r.version.created or "").name
    wanted = settings.default_recommender
    if wanted is not None:
        if wanted in recs:
            defaults["recommend"] = wanted
        else:
            errors.append(
                f"default recommender {wanted!r} is not in the registry; have {sorted(recs)}"
            )
    snap = Snapshot(
        generation=generation,
        loaded_at=time.time(),
        models=MappingProxyType({c: MappingProxyType(m) for c, m in models.items()}),
        defaults=MappingProxyType(defaults),
        catalogue=Catalogue(data["items"]),
        errors=tuple(errors),
    )
    return snap, data.get("recent")


class ServeState:
    """The process's current snapshot, its reloads, the feedback service and the overlay."""

    def __init__(self, settings: ServeSettings, metrics: ServeMetrics) -> None:
        if not Path(settings.workspace).exists():
            raise ValidationError(
                f"no workspace at {settings.workspace}; create one with `shopml simulate` or `shopml ingest`"
            )
        self.settings = settings
        self.metrics = metrics
        self.overlay = Overlay(settings.overlay_items_per_user, settings.overlay_max_users)
        self._snapshot: Snapshot | None = None
        self._reload_lock = threading.Lock()
        self._generation = 0
        Path(settings.runtime_dir).mkdir(parents=True, exist_ok=True)
        self._gen_path = Path(settings.runtime_dir) / RELOAD_GEN
        self._seen_gen = self._read_gen()
        self.feedback = FeedbackService(
            settings.feedback_dir,
            settings.workspace,
            self.overlay,
            interval_s=settings.pump_interval_s,
            commit_interval_s=settings.feedback_commit_interval_s,
            rotate_bytes=settings.log_rotate_bytes,
            on_take_in=lambda r: metrics.count_feedback("committed", r.added),
        )
        self.feedback.every(1.0, self._follow_reloads)

    @property
    def snapshot(self) -> Snapshot | None:
        """The current snapshot (one attribute read: atomic)."""
        return self._snapshot

    def start(self) -> None:
        """Load the models and start the feedback pump."""
        self.reload(broadcast=False)
        self.feedback.start()

    def stop(self) -> None:
        self.feedback.stop()

    def reload(self, broadcast: bool = True) -> tuple[Snapshot | None, Snapshot]:
        """Load the registry's latest versions and swap them in; returns (previous, current)."""
        with self._reload_lock:
            previous = self._snapshot
            self._generation += 1
            snap, recent = load_snapshot(self.settings, self._generation, previous)
            if recent is not None and len(recent):
                self.overlay.add(recent)
            self._snapshot = snap  # the swap: requests from now on see the new models
            if broadcast:
                self._seen_gen = self._bump_gen()
            versions = {tuple(k.split("/", 1)): v for k, v in snap.versions().items()}
            self.metrics.set_models(versions, snap.generation)  # type: ignore[arg-type]
            self.metrics.set_monitoring(monitoring.gauges(snap))
            for e in snap.errors:
                log.warning("reload: %s", e)
            return previous, snap

    # -- reloads of the other workers
    def _read_gen(self) -> str:
        try:
            return self._gen_path.read_text().strip()
        except FileNotFoundError:
            return ""

    def _bump_gen(self) -> str:
        fd = os.open(self._gen_path.with_suffix(".lock"), os.O_RDWR | os.O_CREAT, 0o644)
        try:
            if fcntl is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            current = self._read_gen()
            new = str(int(current) + 1 if current.isdigit() else 1)
            atomic_write_text(self._gen_path, new + "\n")
            return new
        finally:
            os.close(fd)

    def _follow_reloads(self) -> None:
        gen = self._read_gen()
        if gen != self._seen_gen:
            self._seen_gen = gen
            log.info("reload generation %s: reloading models", gen)
            self.reload(broadcast=False)
