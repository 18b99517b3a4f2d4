"""A hand-made run record with every kind of figure, for the report tests (no training needed)."""

from __future__ import annotations


def _row(model, metrics, ci=None, baseline=False):
    return {"model": model, "metrics": metrics, "ci": ci or {}, "baseline": baseline, "fit_seconds": 0.5, "params": {}}


def make_record(with_optional: bool = True) -> dict:
    steps = [
        {
            "name": "recommend", "section": "recommend", "status": "ok", "seconds": 3.0,
            "result": {
                "capability": "recommend", "protocol": "temporal <last 30 days> & friends", "primary": "ndcg@10",
                "higher_is_better": True,
                "leaderboard": [
                    _row("popularity", {"ndcg@10": 0.05, "recall@10": 0.07}, {"ndcg@10": [0.04, 0.06]}, True),
                    _row("ease", {"ndcg@10": 0.21, "recall@10": 0.3}, {"ndcg@10": [0.19, 0.23]}),
                    _row("itemknn", {"ndcg@10": 0.18, "recall@10": 0.25}, {"ndcg@10": [0.16, 0.2]}),
                ],
                "registered": [{"capability": "recommend", "name": "ease", "version": "v0003", "path": "/x", "model": "ease"}],
                "plots": [{"kind": "lines", "title": "recall at each cut-off", "series": [
                    {"name": "ease", "x": [1, 5, 10], "y": [0.05, 0.2, 0.3]}]}],
                "notes": ["ease vs popularity: +0.16"], "stats": {"test_users": 120},
            },
        },
        {
            "name": "churn", "section": "predict", "status": "ok", "seconds": 2.0,
            "result": {
                "capability": "churn", "protocol": "churn in the next 90 days", "primary": "auprc",
                "higher_is_better": True,
                "leaderboard": [_row("lightgbm", {"auprc": 0.61}, {"auprc": [0.55, 0.66]}),
                                _row("prior", {"auprc": 0.3}, {"auprc": [0.27, 0.33]}, True)],
                "registered": [], "notes": [], "stats": {},
                "plots": [
                    {"kind": "lines", "title": "precision-recall", "x_label": "recall", "y_label": "precision",
                     "series": [{"name": "lightgbm", "x": [0, 0.5, 1], "y": [1, 0.7, 0.3]}]},
                    {"kind": "lines", "title": "calibration", "diagonal": True,
                     "series": [{"name": "lightgbm", "x": [0.1, 0.5, 0.9], "y": [0.12, 0.45, 0.85]}]},
                    {"kind": "heatmap", "title": "confusion matrix at 0.5", "z": [[50, 5], [7, 38]],
                     "x": ["stays", "churns"], "y": ["stays", "churns"]},
                ],
            },
        },
        {"name": "search", "section": "search", "status": "skipped", "seconds": 0.1, "reason": "no items to index"},
    ]
    if with_optional:
        steps += [
            {"name": "forecast", "section": "forecast", "status": "ok", "seconds": 1.0, "result": {
                "capability": "forecast", "protocol": "backtest", "primary": "mase", "higher_is_better": False,
                "leaderboard": [_row("deepar", {"mase": 0.8}, {"mase": [0.7, 0.9]}), _row("naive", {"mase": 1.0}, {}, True)],
                "registered": [], "notes": [], "stats": {},
                "plots": [{"kind": "lines", "title": "forecast with 80% interval", "series": [
                    {"name": "deepar", "x": ["2024-01-01", "2024-01-02"], "y": [3, 4], "lo": [2, 3], "hi": [4, 5]}]}],
            }},
            {"name": "bandits", "section": "off-policy", "status": "ok", "seconds": 1.0, "result": {
                "capability": "bandits", "protocol": "logged propensities", "primary": "value", "higher_is_better": True,
                "leaderboard": [], "registered": [], "notes": [], "stats": {},
                "plots": [{"kind": "points_ci", "title": "policy value (IPS, DR)", "series": [
                    {"name": "IPS", "y": 0.05, "lo": 0.04, "hi": 0.06}, {"name": "DR", "y": 0.052, "lo": 0.045, "hi": 0.058}]}],
            }},
        ]
    return {
        "pipeline": "shop", "run_id": "shop/v0003", "created": "2026-01-01T00:00:00Z", "seconds": 12.5,
        "shopml_version": "0.1.0", "config": {"registry": "artifacts"}, "yaml": "name: shop\n# <b>not bold</b>\n",
        "data": {
            "kind": "simulate",
            "ingest": [{"source": "synth:abc", "table": "events", "rows_read": 1000, "rows_accepted": 997,
                        "rows_quarantined": 3, "skipped": False}],
            "info": {"tables": {"events": {"rows": 997, "time_range": ["2024-01-01", "2024-03-01"]}, "items": {"rows": 0}},
                     "quarantine": {"rows": 3, "by_reason": {"events": {"unparsable ts": 2, "unknown event_type": 1}}}},
            "fingerprints": {},
        },
        "steps": steps,
    }
