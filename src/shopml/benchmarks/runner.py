"""The benchmark result format (DESIGN.md §4) and the registry of suites.

A suite is a function ``run(dataset, data_dir=None, workspace=None, **options) -> BenchResult``
registered with :func:`suite`. ``shopml bench CAPABILITY --dataset NAME`` finds it here.
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shopml.core.errors import ValidationError
from shopml.core.persist import atomic_write_json, atomic_write_text

SUITES: dict[str, Callable[..., BenchResult]] = {}
#: suites of the platform itself; every capability's suite is named by its spec (``spec.bench``)
SUITE_MODULES = {
    "distributed": "shopml.benchmarks.distributed",
    "monitoring": "shopml.benchmarks.monitoring",
}


def suite(capability: str) -> Callable:
    """Decorator registering a suite function for a capability."""

    def deco(fn: Callable[..., BenchResult]) -> Callable[..., BenchResult]:
        SUITES[capability] = fn
        return fn

    return deco


def suite_names() -> list[str]:
    """Every capability with a benchmark suite, and the platform's own suites."""
    from shopml import capabilities

    return sorted({n for n, s in capabilities.specs().items() if s.bench} | set(SUITE_MODULES))


def get_suite(capability: str) -> Callable[..., BenchResult]:
    """The suite of a capability (its spec's ``bench``) or of the platform (``distributed``)."""
    import importlib

    from shopml import capabilities

    spec = capabilities.specs().get(capability)
    if spec is not None and spec.bench is not None:
        return spec.part("bench")
    if capability not in SUITES and capability in SUITE_MODULES:
        importlib.import_module(SUITE_MODULES[capability])
    if capability not in SUITES:
        raise ValidationError(f"no benchmark suite for {capability!r}; available: {suite_names()}")
    return SUITES[capability]


def provenance() -> dict[str, Any]:
    """Which code produced a result: the git commit (and whether the tree had uncommitted
    changes), the command line, and the machine's load average while it ran."""
    import subprocess
    import sys

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", *args], capture_output=True, text=True, timeout=10,
                cwd=Path(__file__).resolve().parent,
            ).stdout.strip()
        except (OSError, subprocess.SubprocessError):  # pragma: no cover - no git
            return ""

    commit = git("rev-parse", "HEAD") or None
    dirty = bool(git("status", "--porcelain", "--untracked-files=no")) if commit else None
    argv = sys.argv[:]
    if argv and argv[0].endswith("shopml"):
        argv[0] = "shopml"
    return {
        "commit": commit,
        "dirty": dirty,
        "command": " ".join(argv),
        "load_avg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
    }


def machine() -> str:
    """One line describing where the numbers were measured."""
    try:
        import torch

        threads = torch.get_num_threads()
    except ImportError:  # pragma: no cover
        threads = None
    return (
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch threads {threads}, {platform.python_version()}"
    )


@dataclass
class Row:
    model: str
    metrics: dict[str, float]
    peer: bool = False
    fit_seconds: float | None = None
    predict_seconds: float | None = None
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # e.g. confidence intervals


@dataclass
class BenchResult:
    capability: str
    dataset: str
    protocol: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    machine: str = field(default_factory=machine)
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))
    provenance: dict[str, Any] = field(default_factory=provenance)

    def as_dict(self) -> dict[str, Any]:
        return {
            "capability": self.capability,
            "dataset": self.dataset,
            "protocol": self.protocol,
            "machine": self.machine,
            "created": self.created,
            **self.provenance,
            "notes": self.notes,
            "rows": [r.__dict__ for r in self.rows],
        }

    def markdown(self) -> str:
        metrics = list(dict.fromkeys(m for r in self.rows for m in r.metrics))
        head = ["model", "peer", *metrics, "fit s", "predict s"]
        lines = [
            f"# {self.capability} on {self.dataset}",
            "",
            f"Protocol: {self.protocol}  ",
            f"Machine: {self.machine}  ",
            f"Created: {self.created}  ",
            f"Commit: {self.provenance.get('commit')}"
            f"{' (uncommitted changes)' if self.provenance.get('dirty') else ''}  ",
            f"Command: `{self.provenance.get('command')}`  ",
            f"Load average: {self.provenance.get('load_avg')}",
            "",
            "| " + " | ".join(head) + " |",
            "|" + "---|" * len(head),
        ]
        for r in self.rows:
            cells = [r.model, "yes" if r.peer else ""]
            cells += [_fmt(r.metrics.get(m)) for m in metrics]
            cells += [_fmt(r.fit_seconds, 2), _fmt(r.predict_seconds, 2)]
            lines.append("| " + " | ".join(cells) + " |")
        if self.notes:
            lines += ["", *[f"- {n}" for n in self.notes]]
        return "\n".join(lines) + "\n"

    def write(self, out: str | Path) -> Path:
        """Write ``out`` (JSON) and the Markdown table next to it (same name, ``.md``)."""
        out = Path(out)
        atomic_write_json(out, self.as_dict())
        atomic_write_text(out.with_suffix(".md"), self.markdown())
        return out

    @classmethod
    def read(cls, path: str | Path) -> dict[str, Any]:
        return json.loads(Path(path).read_text())


def _fmt(v: float | None, digits: int = 4) -> str:
    if v is None:
        return ""
    return f"{v:.{digits}f}"


@contextmanager
def timed(into: dict[str, float], key: str):
    """Measure wall time of a block into ``into[key]`` (seconds)."""
    t0 = time.perf_counter()
    try:
        yield
    finally:
        into[key] = time.perf_counter() - t0
