"""The step registry: one function per capability, found by the name used under ``train:``.

A step is a function ``run(ctx, config) -> StepResult`` plus the pydantic model of its section
of the pipeline file and the workspace tables it reads (their fingerprints key its cache).
Adding a capability to pipelines is one module::

    class ChurnStep(Strict):           # its section of the YAML, validated before any work
        horizon_days: int = 90

    @register_step("churn", ChurnStep, tables=("orders",))
    def churn(ctx: StepContext, cfg: ChurnStep) -> StepResult:
        ...                            # fit on the past, evaluate on the future, ctx.register(...)

and its module named in the capability's spec (``Capability.steps``), which
:func:`registered_steps` imports.
A step that cannot run on the data it finds (no text to search, no repeat customers) raises
:class:`StepSkipped` with the reason; the run records it and carries on.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from rich.console import Console
from rich.progress import Progress

from shopml.core.errors import ShopMLError, ValidationError
from shopml.data.workspace import Workspace
from shopml.pipeline.config import EvaluateConfig
from shopml.registry import ModelVersion, Registry

__all__ = [
    "Leader",
    "StepContext",
    "StepResult",
    "StepSkipped",
    "StepSpec",
    "register_step",
    "registered_steps",
    "step_modules",
]


def step_modules() -> tuple[str, ...]:
    """The modules holding the registered capabilities' steps (their specs' ``steps``)."""
    from shopml import capabilities

    return tuple(m for spec in capabilities.specs().values() for m in spec.steps)


class StepSkipped(ShopMLError):
    """The step cannot run on this data; the message says why (recorded, not fatal)."""


@dataclass(frozen=True)
class StepSpec:
    """A registered step: its name, config model, the tables it reads and its function."""

    name: str
    config: type[BaseModel]
    run: Callable[[StepContext, Any], StepResult]
    tables: tuple[str, ...]
    doc: str = ""
    section: str = ""  # report section; the step's name if empty


_STEPS: dict[str, StepSpec] = {}
_loaded = False


def register_step(
    name: str, config: type[BaseModel], tables: tuple[str, ...], section: str | None = None
) -> Callable[[Callable[..., StepResult]], Callable[..., StepResult]]:
    """Decorator: make ``fn`` the pipeline step ``name`` (see the module docstring); ``section``
    is the report section it belongs to (default: its name; e.g. ``predict`` for ``clv``)."""

    def deco(fn: Callable[..., StepResult]) -> Callable[..., StepResult]:
        if name in _STEPS and _STEPS[name].run is not fn:
            raise ValidationError(f"pipeline step {name!r} is registered twice")
        _STEPS[name] = StepSpec(name, config, fn, tuple(tables), (fn.__doc__ or "").strip(), section or name)
        return fn

    return deco


def registered_steps() -> dict[str, StepSpec]:
    """Every registered step by name (the built-in modules are imported on first call)."""
    global _loaded
    if not _loaded:
        for module in step_modules():
            importlib.import_module(module)
        _loaded = True
    return dict(_STEPS)


@dataclass
class Leader:
    """One row of a leaderboard: a model's test metrics and their confidence intervals."""

    model: str
    metrics: dict[str, float]
    ci: dict[str, list[float]] = field(default_factory=dict)
    baseline: bool = False
    fit_seconds: float | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class StepResult:
    """What a step hands back: leaderboard, registered versions, plots, notes (all JSON-ready).

    ``primary`` names the metric that picks the best model (``higher_is_better`` says which
    way); ``plots`` are figure specs the report draws (see :mod:`shopml.evaluation.report`).
    """

    capability: str
    protocol: str
    primary: str
    higher_is_better: bool = True
    leaderboard: list[Leader] = field(default_factory=list)
    registered: list[dict[str, Any]] = field(default_factory=list)
    plots: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    stats: dict[str, Any] = field(default_factory=dict)

    def best(self, include_baselines: bool = False) -> Leader | None:
        """The best row by the primary metric (models before baselines unless asked)."""
        rows = [r for r in self.leaderboard if include_baselines or not r.baseline]
        rows = [r for r in rows if self.primary in r.metrics and r.metrics[self.primary] is not None]
        if not rows:
            return None
        sign = 1 if self.higher_is_better else -1
        return max(rows, key=lambda r: sign * r.metrics[self.primary])

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> StepResult:
        d = dict(d)
        d["leaderboard"] = [Leader(**r) for r in d.get("leaderboard", [])]
        return cls(**d)


@dataclass
class StepContext:
    """What a step works with: the workspace (read-only), the registry, evaluation settings,
    the register policy and the run's progress display."""

    workspace: Workspace
    workspace_path: Path
    registry: Registry
    evaluate: EvaluateConfig
    register_policy: str
    pipeline: str
    progress: Progress
    console: Console
    fingerprints: dict[str, str]
    threads: int = 2

    def wants(self, model: str, best: str | None, policy: str | None = None) -> bool:
        """Whether ``model`` is to be registered under the step's (or the run's) policy."""
        policy = policy or self.register_policy
        return policy == "all" or (policy == "best" and model == best)

    def register(
        self,
        capability: str,
        name: str,
        write_fn: Callable[[Path], object],
        *,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
    ) -> ModelVersion:
        """Register a model with the run's data fingerprints and pipeline name in its meta."""
        return self.registry.register(
            capability,
            name,
            write_fn,
            config={**(config or {}), "pipeline": self.pipeline},
            metrics=metrics,
            data_fingerprint=self.fingerprints,
        )

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False)


def version_ref(mv: ModelVersion) -> dict[str, Any]:
    """How a run record points at a registered version."""
    return {"capability": mv.capability, "name": mv.name, "version": mv.version, "path": str(mv.path)}
