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
import math
import os
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_text
from shopml.predict.btyd import BGNBD, GammaGamma
from shopml.predict.rfm import rfm_summary
from shopml.recommend.base import Recommender
from shopml.recommend.train import INTERACTION_EVENTS
from shopml.registry import ModelVersion, Registry
from shopml.serve import artifacts
from shopml.serve.feedback import FeedbackService, Overlay
from shopml.serve.metrics import ServeMetrics
from shopml.serve.settings import ServeSettings
from shopml.serve.workspace_io import open_workspace

try:  # the search capability is optional: served only where it is importable
    from shopml.search.engine import SearchEngine
except ImportError:  # pragma: no cover
    SearchEngine = None  # type: ignore[assignment,misc]

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
class LoadedRecommender:
    name: str
    version: ModelVersion
    model: Recommender
    data_until: pd.Timestamp | None  # feedback newer than this is applied online

    @property
    def ref(self) -> dict[str, str]:
        return {"name": self.name, "version": self.version.version}


@dataclass(frozen=True)
class LoadedCLV:
    version: ModelVersion
    bgnbd: BGNBD
    gamma_gamma: GammaGamma | None
    config: Mapping[str, Any]
    # per user_id: RFM summary from the workspace's orders, and (if precomputed at load, with the
    # default horizon and discount) p_alive, expected_purchases, expected_spend, clv
    customers: pd.DataFrame | None
    sorted_clv: np.ndarray | None  # the customers' CLV, sorted (percentiles and segments)

    @property
    def ref(self) -> dict[str, str]:
        return {"name": self.version.name, "version": self.version.version}


@dataclass(frozen=True)
class LoadedSearch:
    engine: Any
    n_items: int
    lock: threading.Lock = field(default_factory=threading.Lock)  # the engine keeps per-query state


@dataclass(frozen=True)
class Snapshot:
    """Everything one request needs, never mutated after it is built."""

    generation: int
    loaded_at: float
    recommenders: Mapping[str, LoadedRecommender]
    default_recommender: str | None
    clv: LoadedCLV | None
    search: LoadedSearch | None
    catalogue: Catalogue
    errors: tuple[str, ...] = ()

    def versions(self) -> dict[str, str]:
        """``capability/name -> version`` of every loaded model."""
        out = {f"recommend/{n}": r.version.version for n, r in self.recommenders.items()}
        if self.clv is not None:
            out[f"{self.clv.version.capability}/{self.clv.version.name}"] = self.clv.version.version
        return out

    @property
    def ready(self) -> bool:
        return bool(self.recommenders) or self.clv is not None


# --------------------------------------------------------------------------- loading


def _read_workspace(
    settings: ServeSettings, need_orders: bool, seed_after: pd.Timestamp | None
) -> dict[str, pd.DataFrame]:
    """Catalogue, completed orders (for CLV) and recent interaction events (overlay), in one visit."""
    out: dict[str, pd.DataFrame] = {}
    with open_workspace(settings.workspace, read_only=True) as ws:
        out["items"] = ws.df("items", columns=CATALOGUE_COLUMNS)
        if need_orders:
            out["orders"] = ws.sql(
                "SELECT user_id, ts, quantity * unit_price AS value FROM orders "
                "WHERE status = 'completed' AND user_id IS NOT NULL AND ts IS NOT NULL"
            )
        if seed_after is not None:
            types = ", ".join(f"'{t}'" for t in INTERACTION_EVENTS)
            out["recent"] = ws.sql(
                "SELECT * FROM (SELECT * FROM events WHERE ts > ? AND item_id IS NOT NULL "
                f"AND event_type IN ({types}) ORDER BY ts DESC LIMIT {OVERLAY_SEED_LIMIT}) ORDER BY ts",
                [seed_after.to_pydatetime()],
            )
    return out


def _customers(orders: pd.DataFrame, freq: str) -> pd.DataFrame | None:
    if orders is None or not len(orders):
        return None
    orders = orders.assign(value=orders["value"].fillna(0.0))
    end = pd.to_datetime(orders["ts"], utc=True).max()
    return rfm_summary(orders, calibration_end=end, value_col="value", freq=freq)  # type: ignore[arg-type]


def clv_table(
    clv: LoadedCLV | tuple, frame: pd.DataFrame, horizon: float, discount_rate: float
) -> pd.DataFrame:
    """P(alive), expected purchases, spend per purchase and CLV for summary rows
    (``frequency, recency, T, monetary_value``), vectorised.

    Discounted per the model's ``step``; without discounting the per-step purchases sum to the
    purchases over the whole horizon, so CLV is spend times purchases (what ``gg.clv`` gives).
    """
    bgnbd, gg, config = (
        (clv.bgnbd, clv.gamma_gamma, clv.config) if isinstance(clv, LoadedCLV) else clv
    )
    x = frame["frequency"].to_numpy(dtype=float)
    tx = frame["recency"].to_numpy(dtype=float)
    age = frame["T"].to_numpy(dtype=float)
    m = frame["monetary_value"].to_numpy(dtype=float)
    # spend is known from repeat purchases with a given amount; otherwise the population mean
    known = (x > 0) & np.isfinite(m)
    out = pd.DataFrame(index=frame.index)
    out["p_alive"] = bgnbd.p_alive(x, tx, age)
    out["expected_purchases"] = bgnbd.predict_purchases(horizon, x, tx, age)
    if gg is None:
        out["expected_spend"] = out["clv"] = np.nan
        return out
    out["expected_spend"] = gg.conditional_expected_average_profit(
        np.where(known, x, 0.0), np.where(known, m, 0.0)
    )
    if discount_rate == 0:
        purchases = out["expected_purchases"].to_numpy()
    else:  # purchases expected in step k are worth 1 / (1 + d)^k, as GammaGamma.clv discounts
        step = float(config["step"])
        k = np.arange(1, math.ceil(horizon / step - 1e-9) + 1)
        ends = np.minimum(k * step, horizon)[:, None]
        cum = bgnbd.predict_purchases(ends, x[None, :], tx[None, :], age[None, :])
        per_step = np.diff(cum, axis=0, prepend=np.zeros((1, len(x))))
        purchases = np.sum(per_step * (1.0 + discount_rate) ** -k[:, None], axis=0)
    out["clv"] = out["expected_spend"].to_numpy() * purchases
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


def load_snapshot(
    settings: ServeSettings, generation: int, previous: Snapshot | None = None
) -> tuple[Snapshot, pd.DataFrame | None]:
    """Build a snapshot of the registry's latest versions; also returns events to seed the overlay."""
    registry = Registry(settings.registry)
    errors: list[str] = []
    old_recs = previous.recommenders if previous else {}
    recs: dict[str, LoadedRecommender] = {}
    clv_version: ModelVersion | None = None
    try:
        listed = registry.list()
    except Exception as exc:  # noqa: BLE001 - an unreadable registry keeps the old models
        errors.append(f"registry {settings.registry}: {exc}")
        listed = []
        recs.update(old_recs)
    for mv in listed:
        if mv.capability == "recommend":
            old = old_recs.get(mv.name)
            if old is not None and old.version.path == mv.path:
                recs[mv.name] = old  # unchanged: reuse the loaded model
                continue
            try:
                model = artifacts.load_recommender(registry, mv)
                recs[mv.name] = LoadedRecommender(mv.name, mv, model, _data_until(mv))
            except Exception as exc:  # noqa: BLE001 - report and keep serving the previous one
                errors.append(f"recommend/{mv.name}/{mv.version}: {type(exc).__name__}: {exc}")
                if old is not None:
                    recs[mv.name] = old
        elif (mv.capability, mv.name) == (artifacts.CLV_CAPABILITY, artifacts.CLV_NAME):
            clv_version = mv

    clv_parts = None
    kept_clv = previous.clv if previous is not None else None
    if clv_version is not None:
        try:
            clv_parts = artifacts.load_clv(registry, clv_version)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"predict/clv/{clv_version.version}: {type(exc).__name__}: {exc}")
    seeds = [r.data_until for r in recs.values() if r.data_until is not None]
    seed_after = min(seeds) if seeds else None
    data = _read_workspace(settings, need_orders=clv_parts is not None, seed_after=seed_after)

    items = data["items"]
    catalogue = Catalogue(items)
    clv = None
    if clv_parts is not None:
        bgnbd, gg, config = clv_parts
        customers, sorted_clv = None, None
        try:
            customers = _customers(data.get("orders"), config["freq"])
        except Exception as exc:  # noqa: BLE001 - explicit summaries are still served
            errors.append(f"predict/clv: the workspace's customer summaries failed: {exc}")
        if customers is not None:
            try:
                # batch inference once per load: a known customer's answer is then a lookup
                table = clv_table(clv_parts, customers, config["horizon"], config["discount_rate"])
                customers = customers.join(table)
                values = customers["clv"].to_numpy(dtype=float)
                sorted_clv = np.sort(values[np.isfinite(values)]) if gg is not None else None
            except Exception as exc:  # noqa: BLE001 - then computed per request, without segments
                errors.append(f"predict/clv: precomputing the customers' CLV failed: {exc}")
        clv = LoadedCLV(clv_version, bgnbd, gg, MappingProxyType(config), customers, sorted_clv)
    elif clv_version is not None or (listed == [] and errors):
        clv = kept_clv  # the new version failed to load (or the registry could not be read)

    search = None
    if SearchEngine is not None and len(items):
        try:
            engine = SearchEngine(encoder=settings.search_encoder).fit(items)
            search = LoadedSearch(engine, len(items))
        except Exception as exc:  # noqa: BLE001
            errors.append(f"search: {type(exc).__name__}: {exc}")
            search = previous.search if previous is not None else None

    default = settings.default_recommender
    if default is not None and default not in recs:
        errors.append(
            f"default recommender {default!r} is not in the registry; have {sorted(recs)}"
        )
        default = None
    if default is None and recs:
        # the most recently registered model answers by default
        default = max(recs.values(), key=lambda r: r.version.created or "").name
    snap = Snapshot(
        generation=generation,
        loaded_at=time.time(),
        recommenders=MappingProxyType(recs),
        default_recommender=default,
        clv=clv,
        search=search,
        catalogue=catalogue,
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
