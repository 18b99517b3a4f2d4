"""What the service keeps for the predict and CLV capabilities, built once per registered
version (no refitting, no per-request workspace queries): the spec's ``train`` and ``load``.

- a task model (churn, fraud, ctr, conversion): :class:`ServedTask`, the loaded model with its
  calibrator and the workspace's rows scored once at load (a known id is then a lookup);
- CLV: :class:`ServedCLV`, the loaded model with every customer's numbers precomputed at the
  model's default horizon, and their sorted CLV for percentiles and segments.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from shopml.predict.tasks import (
    LoadedTask,
    default_costs,
    get_task,
    load_task,
    score_task,
    scoring_data,
    task_options,
)
from shopml.registry import ModelVersion, Registry


def train(
    workspace: str | Path, registry: str | Path, model: str = "lightgbm", *, task: str = "churn",
    **options: Any,
) -> ModelVersion:
    """Spec ``train``: fit ``model`` for ``task`` (options: ``params``, ``options``, ``name``)."""
    from shopml.predict.tasks import train_task

    return train_task(workspace, registry, task, model, **options)


@dataclass(frozen=True)
class ServedTask:
    """A task model and the workspace's rows scored at load (``scores`` indexed by entity id),
    with what monitoring found (``monitor``: input and score drift against the training
    snapshot; realised quality and cost on rows whose outcome arrived after training)."""

    loaded: LoadedTask
    scores: pd.DataFrame | None
    error: str | None = None
    monitor: dict[str, Any] | None = None


def load_task_for_serving(version: ModelVersion, ctx: Any) -> ServedTask:
    """Spec ``load`` of predict: the model, its calibrator, and the workspace's rows scored."""
    loaded = load_task(Registry(version.path.parents[2]), version)
    if ctx.workspace is None:
        return ServedTask(loaded, None, "no workspace")
    try:
        opts = task_options(loaded.task, loaded.config.get("options"))
        with ctx.open_workspace() as ws:
            ids, X = scoring_data(loaded.task, ws, opts)
            task = get_task(loaded.task)
            outcomes = task.outcomes(ws, opts) if task.outcomes is not None else None
        scores = score_task(loaded, X)
        scores.index = pd.Index(np.asarray(ids).astype(str), name="id")
        monitor = task_monitor(loaded, X, scores, outcomes)
        return ServedTask(loaded, scores[~scores.index.duplicated()], monitor=monitor)
    except Exception as exc:  # noqa: BLE001 - explicit feature rows are still served
        return ServedTask(loaded, None, f"{type(exc).__name__}: {exc}")


def task_monitor(
    loaded: LoadedTask, X: pd.DataFrame, scores: pd.DataFrame, outcomes: pd.DataFrame | None
) -> dict[str, Any]:
    """Drift of the rows scored now against training, and, where outcomes of rows newer than
    the model's validation period are known, the realised AUC and decision cost against
    acting on nobody."""
    from shopml.evaluation.classification import classification_metrics
    from shopml.evaluation.monitoring import decision_costs

    out: dict[str, Any] = {"rows": len(X)}
    if loaded.reference is not None:
        out["input_drift"] = loaded.reference.input_drift(X)
        out["score_drift"] = loaded.reference.score_drift(scores["probability"].to_numpy())
    until = loaded.config.get("validation_until")
    if outcomes is None or until is None or not len(outcomes):
        return out
    ts = pd.to_datetime(outcomes["ts"], utc=True)
    newer = outcomes[ts > pd.Timestamp(until).tz_convert("UTC")]
    pos = scores.index.get_indexer(newer["id"].astype(str))
    keep = pos >= 0
    y, pos = newer["y"].to_numpy(dtype=float)[keep], pos[keep]
    if len(y) < 20 or y.min() == y.max():
        out["realised"] = {"rows": int(len(y)), "note": "too few outcomes after training yet"}
        return out
    p = scores["probability"].to_numpy()[pos]
    realised: dict[str, Any] = {"rows": int(len(y)), **{
        k: v for k, v in classification_metrics(y, p).items() if k in ("auc", "auprc")
    }}
    costs = default_costs(loaded.task, X.iloc[pos], loaded.config.get("options", {}))
    if costs is not None and "decision" in scores:
        act = scores["decision"].to_numpy()[pos].astype(bool)
        realised.update(decision_costs(y, act, costs.tp, costs.fp, costs.fn, costs.tn))
    out["realised"] = realised
    return out


# --------------------------------------------------------------------------- CLV
@dataclass(frozen=True)
class ServedCLV:
    """A registered CLV model with its serving defaults, and the workspace's customers valued
    once at load.

    ``config``: ``freq`` (the unit of the summaries the API shows, ``D`` or ``W``), ``horizon``
    (in that unit) and ``discount_rate`` (per step of ``step`` units). ``customers``: per
    ``user_id`` the summary (``frequency, recency, T, monetary_value``) and, at the default
    horizon and discount, ``p_alive, expected_purchases, expected_spend, clv``;
    ``sorted_clv``: their CLV, sorted (percentiles and segments).
    """

    model: Any
    config: dict[str, Any]
    customers: pd.DataFrame | None
    sorted_clv: np.ndarray | None
    error: str | None = None


def clv_table(
    clv: ServedCLV, frame: pd.DataFrame, horizon: float, discount_rate: float
) -> pd.DataFrame:
    """P(alive), expected purchases, spend and CLV for summary rows (``frequency, recency, T,
    monetary_value`` in the served unit), over ``horizon`` units; only models that answer from
    a summary (BG/NBD + Gamma-Gamma) can, others raise a ``ValidationError`` saying so."""
    from shopml.predict.rfm import UNIT_DAYS

    days = horizon * UNIT_DAYS[clv.config["freq"]]
    return clv.model.predict_summary(frame, horizon_days=days, discount_rate=discount_rate)


def load_clv_for_serving(version: ModelVersion, ctx: Any) -> ServedCLV:
    """Spec ``load`` of CLV: the registered model, and every workspace customer valued once."""
    from shopml.core.errors import ValidationError
    from shopml.predict.clv import load_clv_model, workspace_orders
    from shopml.predict.rfm import UNIT_DAYS, rfm_summary

    if not (version.path / "model.json").is_file():
        raise ValidationError(
            f"{version.capability}/{version.name} {version.version} is in the CLV layout of "
            "shopml before CLV became a model: retrain it (`shopml train clv`)"
        )
    model = load_clv_model(version)
    cfg = version.config
    freq = getattr(model, "time_unit", "D")
    config = {
        "freq": freq,
        "horizon": float(cfg.get("horizon_days", 90.0)) / UNIT_DAYS[freq],
        "discount_rate": float(cfg.get("discount_rate", 0.0)),
        "step": float(getattr(model, "step_days", 30.0)) / UNIT_DAYS[freq],
    }
    customers, sorted_clv, error = None, None, None
    if ctx.workspace is not None:
        try:
            with ctx.open_workspace() as ws:
                orders = workspace_orders(ws)
            if len(orders):
                orders = orders.assign(value=orders["value"].fillna(0.0))
                end = pd.to_datetime(orders["ts"], utc=True).max()
                customers = rfm_summary(orders, calibration_end=end, value_col="value", freq=freq)
                # batch inference once per load: a known customer's answer is then a lookup
                table = model.predict(
                    orders,
                    horizon_days=float(cfg.get("horizon_days", 90.0)),
                    discount_rate=config["discount_rate"],
                )
                customers = customers.join(table)
                values = customers["clv"].to_numpy(dtype=float)
                finite = values[np.isfinite(values)]
                sorted_clv = np.sort(finite) if len(finite) else None
        except Exception as exc:  # noqa: BLE001 - explicit summaries are still served
            error = f"valuing the workspace's customers failed: {type(exc).__name__}: {exc}"
    return ServedCLV(model, config, customers, sorted_clv, error)
