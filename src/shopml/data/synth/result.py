"""What :func:`~shopml.data.synth.simulate` returns: canonical tables plus the ground truth."""

from __future__ import annotations

import json
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from shopml.core.errors import DataError
from shopml.core.persist import atomic_write_bytes
from shopml.data.schema import TABLES
from shopml.data.synth.config import SimConfig

if TYPE_CHECKING:
    from shopml.data.ingest import IngestReport
    from shopml.data.workspace import Workspace

TABLE_ORDER = (
    "items",
    "users",
    "prices",
    "events",
    "orders",
    "reviews",
    "support_messages",
    "impressions",
    "labels",
)


@dataclass(frozen=True)
class SimTruth:
    """Everything the simulator knows that a shop's data would not tell (for evaluation).

    Arrays are aligned with the id arrays before them (``item_id``, ``user_id``, ``day``,
    ``decision_id``, ``order_id``, ``review_id``). Strings are NumPy unicode arrays so the
    whole object saves to and loads from ``.npz`` without pickle.
    """

    config_json: str
    item_id: np.ndarray
    item_category: np.ndarray
    elasticity: np.ndarray  # d log demand / d log price, per item
    base_price: np.ndarray  # p0: the price the elasticity is relative to
    base_demand: np.ndarray  # expected units per day at p0, given the simulated traffic
    cost: np.ndarray
    quality: np.ndarray  # appeal seen before buying
    defect: np.ndarray  # quality surprise seen only after buying
    item_factors: np.ndarray  # (n_items, k)
    category_names: np.ndarray
    category_factors: np.ndarray  # (n_categories, k)
    user_id: np.ndarray
    user_fraud: np.ndarray
    taste: np.ndarray  # (n_users, k); zeros for fraud accounts
    price_sensitivity: np.ndarray
    activity: np.ndarray  # sessions per day before seasonality
    day: np.ndarray  # datetime64[D]
    season: np.ndarray  # traffic multiplier s(d)
    weekly: np.ndarray  # (7,) Monday .. Sunday, mean 1
    examination: np.ndarray  # (slate_size,) P(examined) by position
    decision_id: np.ndarray
    decision_session_id: np.ndarray
    candidates: np.ndarray  # (decisions, n_candidates) item ids, '' padded
    candidate_probs: np.ndarray  # (decisions, n_candidates) logging policy pi(a | x)
    order_id: np.ndarray
    order_fraud: np.ndarray
    review_id: np.ndarray
    review_satisfaction: np.ndarray
    # per user (aligned with user_id): P(leaving after a purchase) and when they left, in
    # seconds from the start of the horizon (inf: still a customer at the end; 0 and inf for
    # fraud accounts); empty in truth files written before drop-out was simulated
    dropout_prob: np.ndarray = field(default_factory=lambda: np.zeros(0))
    dropout_sec: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def config(self) -> SimConfig:
        return SimConfig.from_dict(json.loads(self.config_json))

    def save(self, path: str | Path) -> Path:
        """Write to ``path`` (``.npz``, no pickled objects), atomically."""
        import io

        buf = io.BytesIO()
        np.savez(buf, **{f.name: np.asarray(getattr(self, f.name)) for f in fields(self)})
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | Path) -> SimTruth:
        """Read what :meth:`save` wrote; never unpickles anything."""
        try:
            with np.load(path, allow_pickle=False) as z:
                # fields added later (with a default) may be missing from older files
                data = {f.name: z[f.name] for f in fields(cls)
                        if f.name in z.files or f.default_factory is MISSING}
        except (OSError, KeyError, ValueError) as exc:
            raise DataError(f"{path}: not a simulator truth file ({exc})") from exc
        data["config_json"] = str(data["config_json"])
        return cls(**data)


def truth_file(workspace: str | Path) -> Path:
    """Where the truth of a simulated workspace is kept: beside it, ``<name>.truth.npz``."""
    return Path(workspace).with_suffix(".truth.npz")


def load_truth(path: str | Path) -> SimTruth:
    """The ground truth saved by :meth:`SimResult.save_truth`."""
    return SimTruth.load(path)


@dataclass(frozen=True)
class SimResult:
    """The simulated shop: one DataFrame per canonical table, its truth, and how long it took."""

    config: SimConfig
    items: pd.DataFrame
    users: pd.DataFrame
    prices: pd.DataFrame
    events: pd.DataFrame
    orders: pd.DataFrame
    reviews: pd.DataFrame
    support_messages: pd.DataFrame
    impressions: pd.DataFrame
    labels: pd.DataFrame
    truth: SimTruth
    seconds: float = 0.0

    @property
    def tables(self) -> dict[str, pd.DataFrame]:
        """Table name -> frame, in the order they are written."""
        return {name: getattr(self, name) for name in TABLE_ORDER}

    def arrow(self, name: str) -> pa.Table:
        """One table as Arrow with exactly its canonical schema."""
        return pa.Table.from_pandas(
            self.tables[name], schema=TABLES[name].schema, preserve_index=False
        )

    def write(self, workspace: Workspace, source: str = "synth") -> list[IngestReport]:
        """Append every table to ``workspace`` (validated like any input); one report per table."""
        return [
            workspace.append(name, self.arrow(name), source=source)
            for name, frame in self.tables.items()
            if len(frame)
        ]

    def save_truth(self, path: str | Path) -> Path:
        """Save the ground truth as ``.npz`` (see :class:`SimTruth`)."""
        return self.truth.save(path)

    def summary(self) -> dict[str, int | float]:
        """Row counts per table, plus generation seconds."""
        out: dict[str, int | float] = {name: len(frame) for name, frame in self.tables.items()}
        out["seconds"] = round(self.seconds, 3)
        return out
