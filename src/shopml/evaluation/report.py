"""One self-contained HTML report of a pipeline run: no internet needed to open it.

``write_report(record, "report.html")`` renders a run record (:func:`shopml.pipeline.load_run`)
as a single file: plotly.js from the installed ``plotly`` package is inlined once, every figure
is a JSON spec drawn by it. Sections:

- ``summary``: each step's status, best model and its primary metric against the best baseline;
- ``data``: rows and time range per table, this run's ingest reports, quarantine counts by reason;
- one section per capability (``recommend``, ``predict``, ``search``, and ``forecast``,
  ``pricing``, ``off-policy`` when a step produces them): the protocol, a leaderboard with
  confidence intervals (best row marked, baselines tagged), a bar chart of the primary metric
  with its interval, the step's own figures, registered versions and notes;
- ``config``: the pipeline file as run.

A step's figures are specs in its ``plots`` (see :class:`shopml.pipeline.steps.StepResult`):

- ``{"kind": "lines", "series": [{"name", "x", "y", "lo"?, "hi"?}], "diagonal"?: true}`` —
  precision-recall, calibration (with the diagonal), forecasts (with ``lo``/``hi`` bands),
  price-profit curves;
- ``{"kind": "heatmap", "z": [[...]], "x": [...], "y": [...]}`` — confusion matrices;
- ``{"kind": "points_ci", "series": [{"name", "y", "lo", "hi"}]}`` — off-policy estimates.
"""

from __future__ import annotations

import html
import json
from pathlib import Path
from typing import Any

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_text

__all__ = ["SECTION_TITLES", "render_report", "summary_rows", "write_report"]

SECTION_TITLES = {
    "recommend": "Recommendation",
    "predict": "Prediction",
    "search": "Search",
    "forecast": "Demand forecasts",
    "pricing": "Prices and profit",
    "off-policy": "Off-policy estimates",
}
_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]


def write_report(record: dict[str, Any], path: str | Path) -> Path:
    """Render ``record`` and write it to ``path`` atomically; returns the path."""
    out = atomic_write_text(Path(path), render_report(record))
    out.chmod(0o644)  # a report is for sharing; the atomic temp file was created private
    return out


def summary_rows(record: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per step: status, best model, primary metric (value, interval), best baseline."""
    rows = []
    for step in record.get("steps", []):
        row: dict[str, Any] = {"step": step["name"], "status": step["status"], "reason": step.get("reason")}
        res = step.get("result")
        if res:
            row["registered"] = [f"{r['capability']}/{r['name']} {r['version']}" for r in res.get("registered", [])]
            row["evaluated"] = bool(res.get("leaderboard"))
        if res and res.get("leaderboard"):
            primary, up = res["primary"], res.get("higher_is_better", True)
            base = _best_row([r for r in res["leaderboard"] if r["baseline"]], primary, up)
            # a step with baselines only (BM25 search) still has a best row to show
            best = _best_row([r for r in res["leaderboard"] if not r["baseline"]], primary, up) or base
            row.update(metric=primary, higher_is_better=up)
            if best:
                row.update(model=best["model"], value=best["metrics"][primary], ci=best["ci"].get(primary))
            if base:
                row.update(baseline=base["model"], baseline_value=base["metrics"][primary])
            stats = res.get("stats") or {}
            oracle = stats.get("oracle")
            # a simulated shop's truth: what a model knowing the true parameters scores
            if oracle and primary in oracle.get("metrics", {}):
                row.update(oracle=oracle["model"], oracle_value=oracle["metrics"][primary],
                           oracle_ci=(oracle.get("ci") or {}).get(primary))
            versus = stats.get("best_vs_baseline")
            # RMSE is compared as paired squared errors (an RMSE of differences is no difference)
            if versus and versus.get("metric") in (primary, {"rmse": "mse"}.get(primary)):
                row.update(diff=versus["diff"], diff_ci=versus.get("ci"),
                           diff_metric=versus.get("metric"))
        rows.append(row)
    return rows


def render_report(record: dict[str, Any]) -> str:
    """The whole HTML document for a run record."""
    if not isinstance(record, dict) or "steps" not in record or "pipeline" not in record:
        raise ValidationError("a report needs a run record (with 'pipeline' and 'steps'); see shopml.pipeline.load_run")
    figs = _Figures()
    body = [_header(record), _summary(record), _data(record)]
    by_section: dict[str, list[dict]] = {}
    for step in record["steps"]:
        section = step.get("section") or step["name"]
        by_section.setdefault(section, []).append(step)
    order = list(SECTION_TITLES) + sorted(set(by_section) - set(SECTION_TITLES))
    for section in order:
        if section in by_section:  # forecasts, prices, off-policy only where a step made them
            body.append(_section(section, by_section[section], figs, _level(record)))
    body.append(_config(record))
    title = _e(f"shopml run {record.get('run_id', record['pipeline'])}")
    return "".join([
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width,initial-scale=1">',
        f"<title>{title}</title><style>{_CSS}</style>\n",
        f"<script>{_plotly_js()}</script></head>\n<body>\n",
        "\n".join(body),
        f"\n<script>\n{figs.scripts()}\n</script>\n</body></html>\n",
    ])


# --------------------------------------------------------------------------- sections
def _header(record: dict) -> str:
    meta = [
        ("run", record.get("run_id", "(not stored)")),
        ("created", record.get("created", "")),
        ("data", record.get("data", {}).get("kind", "")),
        ("seconds", record.get("seconds", "")),
        ("shopml", record.get("shopml_version", "")),
    ]
    items = "".join(f"<li><b>{_e(k)}</b> {_e(v)}</li>" for k, v in meta)
    return f'<header><h1>shopml run <code>{_e(record.get("run_id", record["pipeline"]))}</code></h1><ul class="meta">{items}</ul></header>'


def _summary(record: dict) -> str:
    rows = []
    for r in summary_rows(record):
        if r["status"] in ("skipped", "failed"):
            rows.append(f'<tr class="{r["status"]}"><td>{_e(r["step"])}</td><td>{_e(r["status"])}</td><td colspan="6">{_e(r.get("reason") or "")}</td></tr>')
            continue
        if not r.get("evaluated"):
            rows.append(f'<tr><td>{_e(r["step"])}</td><td>{_e(r["status"])}</td><td colspan="5">not evaluated (nothing to judge it by)</td>'
                        f'<td>{_e(", ".join(r.get("registered", [])))}</td></tr>')
            continue
        arrow = "higher is better" if r.get("higher_is_better", True) else "lower is better"
        diff = _fmt_ci(r["diff"], r.get("diff_ci")) if r.get("diff") is not None else ""
        oracle = (f'{_e(r["oracle"])}: {_fmt_ci(r.get("oracle_value"), r.get("oracle_ci"))}'
                  if r.get("oracle") else "")
        rows.append(
            f'<tr><td>{_e(r["step"])}</td><td>{_e(r["status"])}</td><td>{_e(r.get("model", ""))}</td>'
            f'<td>{_e(r.get("metric", ""))} ({arrow}): {_fmt_ci(r.get("value"), r.get("ci"))}</td>'
            f'<td>{_e(r.get("baseline", ""))}: {_fmt(r.get("baseline_value"))}</td>'
            f'<td>{diff}</td><td>{oracle}</td>'
            f'<td>{_e(", ".join(r.get("registered", [])))}</td></tr>'
        )
    head = (f"<tr><th>step</th><th>status</th><th>best model</th><th>metric ({_level(record)} CI)</th>"
            f"<th>best baseline</th><th>model &minus; baseline (paired {_level(record)} CI)</th>"
            "<th>oracle (simulator's truth)</th><th>registered</th></tr>")
    return f'<section id="summary"><h2>Summary</h2><table class="board">{head}{"".join(rows)}</table></section>'


def _data(record: dict) -> str:
    data = record.get("data", {})
    info = data.get("info", {})
    rows = "".join(
        f"<tr><td>{_e(name)}</td><td class=num>{e.get('rows', 0):,}</td><td>{_e(' .. '.join(e.get('time_range', [])))}</td></tr>"
        for name, e in info.get("tables", {}).items() if e.get("rows")
    )
    tables = f"<table><tr><th>table</th><th>rows</th><th>time range</th></tr>{rows}</table>"
    q = info.get("quarantine", {"rows": 0, "by_reason": {}})
    q_rows = "".join(
        f"<tr><td>{_e(t)}</td><td>{_e(reason)}</td><td class=num>{n:,}</td></tr>"
        for t, reasons in q.get("by_reason", {}).items() for reason, n in reasons.items()
    )
    quarantine = (
        f'<div id="quarantine"><h3>Quarantine: {q.get("rows", 0):,} rows</h3>'
        + (f"<table><tr><th>table</th><th>reason</th><th>rows</th></tr>{q_rows}</table>" if q_rows
           else "<p>No row was quarantined: every input row was accepted.</p>")
        + "</div>"
    )
    ing = data.get("ingest", [])
    ing_rows = "".join(
        f"<tr><td>{_e(r['source'])}</td><td>{_e(r['table'])}</td><td class=num>{r['rows_read']:,}</td>"
        f"<td class=num>{r['rows_accepted']:,}</td><td class=num>{r['rows_quarantined']:,}</td>"
        f"<td>{'already ingested, skipped' if r.get('skipped') else ''}</td></tr>"
        for r in ing
    )
    ingest = (
        f"<h3>This run's ingest</h3><table><tr><th>source</th><th>table</th><th>read</th><th>accepted</th>"
        f"<th>quarantined</th><th>note</th></tr>{ing_rows}</table>" if ing_rows
        else "<p>This run ingested nothing new (the workspace already held its data).</p>"
    )
    return f'<section id="data"><h2>Data</h2>{tables}{ingest}{quarantine}</section>'


def _section(section: str, steps: list[dict], figs: _Figures, level: str) -> str:
    parts = [f'<section id="{_e(section)}" class="capability"><h2>{_e(SECTION_TITLES.get(section, section))}</h2>']
    for step in steps:
        parts.append(f'<div class="step" id="step-{_e(step["name"])}"><h3>{_e(step["name"])} '
                     f'<span class="status {step["status"]}">{_e(step["status"])}</span></h3>')
        res = step.get("result")
        if not res:
            parts.append(f"<p>{_e(step.get('reason', ''))}</p></div>")
            continue
        parts.append(f"<p class=protocol><b>Protocol.</b> {_e(res.get('protocol', ''))}</p>")
        parts.append(_leaderboard(res, level))
        if res.get("leaderboard"):
            parts.append(figs.add(_ci_bars(res, level)))
        for plot in res.get("plots", []):
            parts.append(figs.add(plot))
        reg = res.get("registered", [])
        if reg:
            items = "".join(f"<li><code>{_e(r['capability'])}/{_e(r['name'])} {_e(r['version'])}</code> ({_e(r.get('model', ''))})</li>" for r in reg)
            parts.append(f"<h4>Registered</h4><ul>{items}</ul>")
        if res.get("notes"):
            parts.append("<h4>Notes</h4><ul>" + "".join(f"<li>{_e(n)}</li>" for n in res["notes"]) + "</ul>")
        if res.get("stats"):
            parts.append(f"<details><summary>data of this step</summary><pre>{_e(json.dumps(res['stats'], indent=1, default=str))}</pre></details>")
        parts.append("</div>")
    parts.append("</section>")
    return "".join(parts)


def _leaderboard(res: dict, level: str = "95%") -> str:
    rows = res.get("leaderboard", [])
    if not rows:
        return "<p>No leaderboard.</p>"
    metrics: list[str] = []
    for r in rows:
        metrics += [m for m in r["metrics"] if m not in metrics]
    primary, up = res["primary"], res.get("higher_is_better", True)
    top = _best_row(rows, primary, up)
    best = top["model"] if top else None
    head = "<tr><th>model</th>" + "".join(
        f"<th{' class=primary' if m == primary else ''}>{_e(m)}</th>" for m in metrics
    ) + "<th>fit s</th></tr>"
    body = []
    for r in rows:
        cls = " ".join(c for c in ("best" if r["model"] == best else "", "baseline" if r["baseline"] else "") if c)
        tag = ' <span class="tag">baseline</span>' if r["baseline"] else ""
        cells = "".join(f"<td class=num>{_fmt_ci(r['metrics'].get(m), r['ci'].get(m))}</td>" for m in metrics)
        body.append(f'<tr class="{cls}"><td>{_e(r["model"])}{tag}</td>{cells}<td class=num>{_fmt(r.get("fit_seconds"))}</td></tr>')
    direction = "higher is better" if up else "lower is better"
    return (f'<p>Primary metric <b>{_e(primary)}</b> ({direction}); intervals are {level} bootstrap intervals where shown.</p>'
            f'<table class="board leaderboard">{head}{"".join(body)}</table>')


def _config(record: dict) -> str:
    text = record.get("yaml") or json.dumps(record.get("config", {}), indent=2)
    return f'<section id="config"><h2>Pipeline</h2><pre>{_e(text)}</pre></section>'


# --------------------------------------------------------------------------- figures
class _Figures:
    """Collects figure specs; each becomes a div and a Plotly.newPlot call."""

    def __init__(self) -> None:
        self.specs: list[tuple[str, dict, dict]] = []

    def add(self, plot: dict) -> str:
        fig_id = f"fig-{len(self.specs) + 1}"
        data, layout = _figure(plot)
        self.specs.append((fig_id, data, layout))
        return f'<div class="plot" id="{fig_id}" data-title="{_e(plot.get("title", ""))}"></div>'

    def scripts(self) -> str:
        calls = [
            f"Plotly.newPlot({json.dumps(i)}, {_json(d)}, {_json(layout)}, {{displaylogo: false, responsive: true}});"
            for i, d, layout in self.specs
        ]
        return "\n".join(calls)


def _ci_bars(res: dict, level: str) -> dict:
    primary = res["primary"]
    rows = [r for r in res["leaderboard"] if r["metrics"].get(primary) is not None]
    series = [{
        "name": r["model"], "y": r["metrics"][primary],
        "lo": (r["ci"].get(primary) or [None, None])[0], "hi": (r["ci"].get(primary) or [None, None])[1],
        "baseline": r["baseline"],
    } for r in rows]
    return {"kind": "bars_ci", "title": f"{primary} with {level} interval", "y_label": primary, "series": series}


def _figure(plot: dict) -> tuple[list[dict], dict]:
    kind = plot.get("kind")
    layout = {
        "title": {"text": plot.get("title", ""), "font": {"size": 14}},
        "xaxis": {"title": {"text": plot.get("x_label", "")}},
        "yaxis": {"title": {"text": plot.get("y_label", "")}},
        "margin": {"l": 60, "r": 20, "t": 50, "b": 60}, "height": 360, "template": "plotly_white",
    }
    data: list[dict] = []
    if kind == "bars_ci":
        s = plot["series"]
        data.append({
            "type": "bar", "x": [p["name"] for p in s], "y": [p["y"] for p in s],
            "marker": {"color": ["#9e9e9e" if p.get("baseline") else _COLORS[0] for p in s]},
            "error_y": {"type": "data", "symmetric": False,
                        "array": [(p["hi"] - p["y"]) if p["hi"] is not None else 0 for p in s],
                        "arrayminus": [(p["y"] - p["lo"]) if p["lo"] is not None else 0 for p in s]},
        })
    elif kind == "lines":
        for n, s in enumerate(plot["series"]):
            color = _COLORS[n % len(_COLORS)]
            if s.get("lo") is not None and s.get("hi") is not None:
                data.append({"type": "scatter", "x": s["x"], "y": s["hi"], "mode": "lines", "line": {"width": 0},
                             "showlegend": False, "hoverinfo": "skip"})
                data.append({"type": "scatter", "x": s["x"], "y": s["lo"], "mode": "lines", "line": {"width": 0},
                             "fill": "tonexty", "fillcolor": _rgba(color, 0.2), "name": f"{s['name']} interval"})
            data.append({"type": "scatter", "x": s["x"], "y": s["y"], "mode": "lines+markers",
                         "name": s["name"], "line": {"color": color}})
        if plot.get("diagonal"):
            data.append({"type": "scatter", "x": [0, 1], "y": [0, 1], "mode": "lines", "name": "perfect",
                         "line": {"dash": "dash", "color": "#777"}})
    elif kind == "heatmap":
        data.append({"type": "heatmap", "z": plot["z"], "x": plot.get("x"), "y": plot.get("y"),
                     "colorscale": "Blues", "texttemplate": "%{z}", "showscale": False})
        layout["yaxis"]["autorange"] = "reversed"  # first row on top, as a matrix is read
    elif kind == "points_ci":
        s = plot["series"]
        data.append({
            "type": "scatter", "mode": "markers", "x": [p["name"] for p in s], "y": [p["y"] for p in s],
            "error_y": {"type": "data", "symmetric": False,
                        "array": [p["hi"] - p["y"] for p in s], "arrayminus": [p["y"] - p["lo"] for p in s]},
        })
    else:
        raise ValidationError(f"unknown figure kind {kind!r}; expected lines, heatmap, points_ci or bars_ci")
    return data, layout


def _plotly_js() -> str:
    try:
        from plotly.offline import get_plotlyjs
    except ImportError as exc:  # pragma: no cover - plotly is a core dependency
        raise ValidationError(f"the report needs the plotly package: {exc}") from None
    # a "</script>" inside the library would end the inline script early
    return get_plotlyjs().replace("</script>", "<\\/script>")


# --------------------------------------------------------------------------- helpers
def _level(record: dict) -> str:
    """The run's interval level as a percentage (95% unless the pipeline said otherwise)."""
    level = (record.get("config", {}).get("evaluate") or {}).get("level", 0.95)
    return f"{100 * level:g}%"


def _best_row(rows: list[dict], primary: str, higher_is_better: bool) -> dict | None:
    rows = [r for r in rows if r["metrics"].get(primary) is not None]
    sign = 1 if higher_is_better else -1
    return max(rows, key=lambda r: sign * r["metrics"][primary]) if rows else None


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _json(obj: Any) -> str:
    return json.dumps(obj, allow_nan=False, default=str).replace("</", "<\\/")


def _fmt(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:,.4f}" if abs(v) < 1000 else f"{v:,.0f}"
    return _e(v)


def _fmt_ci(v: Any, ci: list | None) -> str:
    if v is None:
        return ""
    out = _fmt(v)
    if ci and ci[0] is not None:
        out += f' <span class="ci">[{_fmt(ci[0])}, {_fmt(ci[1])}]</span>'
    return out


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:0 20px 40px;color:#222}
h1{font-size:22px;margin:24px 0 4px}h2{border-bottom:2px solid #ddd;padding-bottom:4px;margin-top:36px}
ul.meta{list-style:none;padding:0;display:flex;flex-wrap:wrap;gap:18px;color:#555}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border-bottom:1px solid #e5e5e5;padding:4px 10px;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}th.primary{background:#eef4fb}
tr.best td{background:#e8f5e9;font-weight:600}tr.baseline td{color:#666}.ci{color:#777;font-weight:400;font-size:12px}
.tag{font-size:11px;background:#eee;border-radius:3px;padding:0 4px;margin-left:4px}
.status{font-size:12px;border-radius:3px;padding:1px 6px;background:#e8f5e9}.status.skipped{background:#fff8e1}.status.failed{background:#ffebee}
tr.skipped td{color:#8a6d00}tr.failed td{color:#b71c1c}.plot{width:100%;min-height:360px}
pre{background:#f6f8fa;padding:10px;overflow:auto;font-size:12px}.protocol{color:#444}
"""
