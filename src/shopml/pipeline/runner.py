"""Running a pipeline: data in, steps (cached), a run record in the registry, the report.

A run:

1. validates the whole file (:func:`shopml.pipeline.config.load_pipeline`) — nothing starts
   before it is valid;
2. brings the data into the workspace: a named dataset or generic files (ingest is idempotent:
   content already ingested adds nothing), or the simulator (skipped when the workspace already
   holds this exact simulation);
3. fingerprints every table (:meth:`Workspace.fingerprint`) and runs each step. A step's cache
   key is the hash of its config, the evaluation settings, the register policy, the fingerprints
   of the tables it reads and the shopml version; an unchanged step with its registered models
   still in the registry reuses the stored result instead of training again;
4. stores the run record (config, the YAML as written, data summary and fingerprints, every
   step's leaderboard and registered versions) in the registry as ``runs/<pipeline>/vNNNN``: the
   run id is ``<pipeline>/vNNNN``;
5. writes the HTML report when the pipeline names one.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console

from shopml import __version__
from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_json, read_json
from shopml.core.progress import make_progress
from shopml.data.workspace import Workspace
from shopml.pipeline.config import PipelineConfig
from shopml.pipeline.steps import StepContext, StepResult, StepSkipped, registered_steps
from shopml.registry import Registry

__all__ = ["RUNS", "load_run", "run_pipeline", "simulation_tag", "simulations_in"]

RUNS = "runs"  # registry capability holding run records
RUN_FILE = "run.json"
CACHE_DIR = ".pipeline-cache"  # inside the registry root; dot-folders are not model names


def run_pipeline(
    cfg: PipelineConfig,
    *,
    source_text: str | None = None,
    use_cache: bool = True,
    console: Console | None = None,
    threads: int = 2,
) -> dict[str, Any]:
    """Run a validated pipeline; returns the run record (with ``run_id``)."""
    console = console or Console(stderr=True)
    registry = Registry(cfg.registry)
    steps = registered_steps()
    t_start = time.perf_counter()
    limits = _limit_threads(threads)
    try:
        with make_progress() as progress:
            overall = progress.add_task(f"pipeline {cfg.name}", total=1 + len(cfg.step_configs()))
            reports = _prepare_data(cfg, progress)
            progress.advance(overall)
            with Workspace(cfg.workspace, read_only=True) as ws:
                from shopml.data.schema import TABLES

                fingerprints = {t: ws.fingerprint(t) for t in TABLES}
                info = ws.info()
                ctx = StepContext(
                    ws, Path(cfg.workspace), registry, cfg.evaluate, cfg.register_policy, cfg.name,
                    progress, console, fingerprints, threads,
                )
                records = []
                for name, step_cfg in cfg.step_configs().items():
                    progress.update(overall, description=f"pipeline {cfg.name}: {name}")
                    records.append(_run_step(ctx, steps[name], step_cfg, use_cache))
                    progress.advance(overall)
    finally:
        limits()
    record = {
        "pipeline": cfg.name,
        "shopml_version": __version__,
        "seconds": round(time.perf_counter() - t_start, 2),
        "config": cfg.model_dump(mode="json", by_alias=True),
        "yaml": source_text,
        "data": {"kind": cfg.data.kind, "ingest": reports, "info": info, "fingerprints": fingerprints},
        "steps": records,
    }
    summary = {}
    for r in records:
        best = _best(r)
        if best is not None:
            summary[f"{r['name']}.best"] = best["model"]
            summary[f"{r['name']}.{r['result']['primary']}"] = best["metrics"].get(r["result"]["primary"])
    mv = registry.register(
        RUNS, cfg.name, lambda d: atomic_write_json(d / RUN_FILE, record),
        config=record["config"], metrics=summary, data_fingerprint=fingerprints,
    )
    record["run_id"] = f"{cfg.name}/{mv.version}"
    record["created"] = mv.created
    if cfg.report is not None:
        from shopml.evaluation.report import write_report

        record["report"] = str(write_report(record, cfg.report))
    return record


def load_run(registry: str | Path, run_id: str) -> dict[str, Any]:
    """A stored run record by id: ``<pipeline>/vNNNN``, ``<pipeline>/latest`` or ``<pipeline>``."""
    name, _, version = run_id.partition("/")
    mv = Registry(registry).get(RUNS, name, version or "latest")
    Registry(registry).verify(mv)
    record = read_json(mv.file(RUN_FILE))
    record["run_id"] = f"{name}/{mv.version}"
    record["created"] = mv.created
    return record


# --------------------------------------------------------------------------- data
def _prepare_data(cfg: PipelineConfig, progress) -> list[dict[str, Any]]:
    """Bring the data into the workspace; one report per source/table (skips included)."""
    data = cfg.data
    task = progress.add_task("data", total=None)
    with Workspace(cfg.workspace) as ws:
        if data.dataset is not None:
            progress.update(task, description=f"data: ingesting {data.dataset}")
            reports = ws.ingest_dataset(data.dataset, data.path)
        elif data.sources is not None:
            progress.update(task, description="data: ingesting files")
            reports = ws.ingest([_file_source(s) for s in data.sources])
        else:
            reports = _simulate(ws, data.simulate, progress, task)
    progress.remove_task(task)
    return [r.as_dict() for r in reports]


def _simulate(ws: Workspace, sim, progress, task) -> list:
    from shopml.data.synth import simulate

    sim_cfg = sim.sim_config()
    tag = simulation_tag(sim)
    done = ws.sql("SELECT DISTINCT source FROM ingest_log WHERE source LIKE 'synth:%'")["source"].tolist()
    if tag in done:
        return []  # this exact simulation is already in the workspace
    if done:
        raise ValidationError(
            f"workspace {ws.path} already holds another simulated shop ({done[0]}); "
            "delete it or name another workspace"
        )
    progress.update(task, description=f"data: simulating {sim.users:,} customers, {sim.items:,} items, {sim.days} days")
    return simulate(sim_cfg).write(ws, source=tag)


def simulation_tag(sim) -> str:
    """The ingest source name of a simulation: the same config gives the same tag."""
    cfg = dataclasses.asdict(sim.sim_config())
    return "synth:" + hashlib.sha256(json.dumps(cfg, sort_keys=True).encode()).hexdigest()[:12]


def simulations_in(path: str | Path) -> list[str]:
    """Tags of the simulations a workspace file holds (empty if it does not exist)."""
    if not Path(path).exists():
        return []
    with Workspace(path, read_only=True) as ws:
        return ws.sql("SELECT DISTINCT source FROM ingest_log WHERE source LIKE 'synth:%'")["source"].tolist()


def _file_source(s):
    """A generic-loader source; ``na_values`` become NULL before any parsing."""
    from shopml.data.ingest import Col, Mapping, Source
    from shopml.data.loaders.generic import generic_source

    src: Source = generic_source(
        s.file, s.table, dict(s.map), dict(s.defaults) or None,
        ts_unit=s.ts_unit, ts_format=s.ts_format, sep=s.sep,
    )
    if not s.na_values:
        return src
    nas = ", ".join("'" + v.replace("'", "''") + "'" for v in s.na_values)
    cols = {}
    for name, c in src.mapping.columns.items():
        if name in s.map and isinstance(c, Col):
            c = Col(f"CASE WHEN {c.expr} IN ({nas}) THEN NULL ELSE {c.expr} END", c.parse)
        cols[name] = c
    return dataclasses.replace(src, mapping=Mapping(src.mapping.table, cols))


# --------------------------------------------------------------------------- steps
def _run_step(ctx: StepContext, spec, step_cfg, use_cache: bool) -> dict[str, Any]:
    policy = getattr(step_cfg, "register_policy", None) or ctx.register_policy
    key_doc = {
        "step": spec.name,
        "config": step_cfg.model_dump(mode="json", by_alias=True),
        "evaluate": ctx.evaluate.model_dump(mode="json", by_alias=True),
        "register": policy,
        "data": {t: ctx.fingerprints.get(t) for t in spec.tables},
        "shopml": __version__,
    }
    key = hashlib.sha256(json.dumps(key_doc, sort_keys=True).encode()).hexdigest()[:16]
    cache_file = ctx.registry.root / CACHE_DIR / f"{spec.name}-{key}.json"
    out: dict[str, Any] = {
        "name": spec.name, "section": spec.section, "cache_key": key, "config": key_doc["config"],
    }
    t0 = time.perf_counter()
    if use_cache and cache_file.exists():
        stored = read_json(cache_file)
        # reuse only while every model it registered is still in this registry (moved or not)
        for r in stored["registered"]:
            r["path"] = str(ctx.registry.root / r["capability"] / r["name"] / r["version"])
        if all((Path(r["path"]) / "meta.json").is_file() for r in stored["registered"]):
            ctx.log(f"[bold]{spec.name}[/]: unchanged config and data, reusing the result of {stored.get('run_started', 'an earlier run')}")
            return {**out, "status": "cached", "seconds": 0.0, "result": stored}
    ctx.log(f"[bold]{spec.name}[/]: running")
    try:
        result: StepResult = spec.run(ctx, step_cfg)
    except StepSkipped as exc:
        ctx.log(f"[yellow]{spec.name}: skipped[/] ({exc})")
        return {**out, "status": "skipped", "reason": str(exc), "seconds": round(time.perf_counter() - t0, 2)}
    except Exception as exc:  # one capability failing must not hide the others' results
        ctx.log(f"[bold red]{spec.name}: failed[/]: {type(exc).__name__}: {exc}")
        return {
            **out, "status": "failed", "reason": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=8), "seconds": round(time.perf_counter() - t0, 2),
        }
    stored = {**result.as_dict(), "run_started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    atomic_write_json(cache_file, stored)
    return {**out, "status": "ok", "seconds": round(time.perf_counter() - t0, 2), "result": stored}


def _best(step: dict[str, Any]) -> dict[str, Any] | None:
    if step.get("status") not in ("ok", "cached"):
        return None
    res = StepResult.from_dict({k: v for k, v in step["result"].items() if k != "run_started"})
    best = res.best()
    return dataclasses.asdict(best) if best is not None else None


def _limit_threads(n: int):
    """BLAS at ``n`` threads and torch at one for the run; returns the function that restores them.

    torch's small-batch training gains little from a second thread and, on a machine whose
    cores are busy, its thread pool waits on itself: BPR took 440 s on 2 threads against 29 s
    on 1 on the same loaded 2-core machine.
    """
    from threadpoolctl import threadpool_limits

    limiter = threadpool_limits(n)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)

    def restore() -> None:
        limiter.restore_original_limits()
        torch.set_num_threads(before)

    return restore
