"""Monitoring of the served models, from what each capability's spec declares (``monitors``)
and what its loaded models measured at load (a served object's ``monitor`` dict: input and
score drift against the training snapshot, realised quality and cost; see
:mod:`shopml.evaluation.monitoring`). Exposed as Prometheus gauges, ``GET /v1/monitoring`` and
the dashboard's Monitoring page."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shopml import capabilities
from shopml.evaluation.monitoring import drift_level

if TYPE_CHECKING:
    from shopml.serve.state import Snapshot


def report(snap: Snapshot | None) -> list[dict[str, Any]]:
    """One entry per served model: the declared monitors and what was measured."""
    if snap is None:
        return []
    out = []
    specs = capabilities.specs()
    for cap, models in snap.models.items():
        declared = [
            {"kind": m.kind, "description": m.description, "metric": m.metric}
            for m in specs[cap].monitors
        ] if cap in specs else []
        for name, loaded in models.items():
            measured = dict(getattr(loaded.obj, "monitor", None) or {})
            drift = measured.get("input_drift") or {}
            worst = max(drift.items(), key=lambda kv: kv[1]) if drift else None
            out.append({
                "capability": cap,
                "name": name,
                "version": loaded.version.version,
                "declared": declared,
                "measured": bool(measured),
                "rows": measured.get("rows"),
                "input_drift": drift,
                "worst_feature": None if worst is None else {"feature": worst[0], "psi": worst[1]},
                "input_level": drift_level(worst[1] if worst else None),
                "score_drift": measured.get("score_drift"),
                "score_level": drift_level(measured.get("score_drift")),
                "realised": measured.get("realised"),
            })
    return out


def gauges(snap: Snapshot | None) -> dict[str, list[tuple[tuple[str, ...], float]]]:
    """The values of the monitoring gauges: ``{gauge: [(labels, value), ...]}``."""
    out: dict[str, list[tuple[tuple[str, ...], float]]] = {
        "input": [], "score": [], "realised": []
    }
    for entry in report(snap):
        key = (entry["capability"], entry["name"])
        for feature, value in entry["input_drift"].items():
            out["input"].append(((*key, feature), float(value)))
        if entry["score_drift"] is not None:
            out["score"].append((key, float(entry["score_drift"])))
        for metric, value in (entry["realised"] or {}).items():
            if isinstance(value, int | float) and metric != "rows":
                out["realised"].append(((*key, metric), float(value)))
    return out
