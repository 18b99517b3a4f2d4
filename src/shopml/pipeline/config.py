"""The pipeline file: YAML read with line numbers, validated by pydantic before any work starts.

A pipeline says where the data comes from, which capabilities to train with which models and
parameters, how to evaluate and what to register::

    name: online-retail
    workspace: workspaces/online-retail.duckdb   # relative paths: from the working directory
    registry: artifacts
    data:
      dataset: online-retail                      # or simulate: {...}, or sources: [...]
    train:
      recommend:
        models: [popularity, {name: ease, params: {l2: 200}}]
      clv: {holdout_days: 90}
    evaluate: {bootstrap: 1000, level: 0.95}
    register: best                                # best | all | none
    report: reports/online-retail.html

Every problem is reported at once, each as ``FILE:LINE: key.path: message`` (the line of the
offending key), and nothing runs until the whole file is valid: the step sections are checked by
the config model each step declares (see :mod:`shopml.pipeline.steps`).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator
from pydantic import ValidationError as PydanticError

from shopml.core.errors import ValidationError

__all__ = [
    "DataConfig",
    "EvaluateConfig",
    "FileSource",
    "PipelineConfig",
    "PipelineConfigError",
    "SimulateConfig",
    "load_pipeline",
    "parse_pipeline",
]

_NAME_RE = r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$"


class PipelineConfigError(ValidationError):
    """A pipeline file is not valid; ``problems`` lists ``(line, key path, message)``."""

    def __init__(self, source: str, problems: list[tuple[int | None, str, str]]) -> None:
        self.source = source
        self.problems = problems
        lines = [
            f"{source}:{line if line is not None else '?'}: {key or '<top>'}: {msg}"
            for line, key, msg in problems
        ]
        n = len(problems)
        super().__init__(f"{n} problem{'s' if n != 1 else ''} in {source}:\n  " + "\n  ".join(lines))


class Strict(BaseModel):
    """Unknown keys are errors (a typo must not be silently ignored)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class SimulateConfig(Strict):
    """The shop simulator (:mod:`shopml.data.synth`); ``options`` takes any other SimConfig field."""

    users: int = Field(5_000, ge=10)
    items: int = Field(500, ge=10)
    days: int = Field(120, ge=14)
    seed: int = 7
    options: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _check_sim(self) -> SimulateConfig:
        self.sim_config()  # SimConfig validates every knob and names the bad one
        return self

    def sim_config(self):
        from shopml.data.synth import SimConfig

        known = {"n_users", "n_items", "days", "seed"} & set(self.options)
        if known:
            raise ValueError(f"set {sorted(known)} with users/items/days/seed, not in options")
        try:
            return SimConfig.from_dict(
                {"n_users": self.users, "n_items": self.items, "days": self.days, "seed": self.seed, **self.options}
            ).validate()
        except (TypeError, ValidationError) as exc:
            raise ValueError(str(exc)) from None


class FileSource(Strict):
    """One file for the generic loader: canonical table, column mapping, constants, time format."""

    file: Path
    table: str
    map: dict[str, str] = Field(min_length=1)
    defaults: dict[str, str] = Field(default_factory=dict)
    ts_unit: Literal["s", "ms"] | None = None
    ts_format: str | None = None
    sep: str | None = None
    na_values: list[str] = Field(default_factory=list)

    @field_validator("table")
    @classmethod
    def _known_table(cls, v: str) -> str:
        from shopml.data.schema import TABLES

        if v not in TABLES:
            raise ValueError(f"unknown table {v!r}; tables are {sorted(TABLES)}")
        return v

    @model_validator(mode="after")
    def _known_columns(self) -> FileSource:
        from shopml.data.schema import table

        cols = table(self.table).columns
        unknown = sorted((set(self.map) | set(self.defaults)) - set(cols))
        if unknown:
            raise ValueError(f"table {self.table!r} has no column(s) {unknown}; its columns are {cols}")
        if self.ts_unit and self.ts_format:
            raise ValueError("give ts_unit or ts_format, not both")
        if not self.file.is_file():
            raise ValueError(f"no file {self.file} (relative paths are from the working directory {Path.cwd()})")
        return self


class DataConfig(Strict):
    """Where the data comes from: exactly one of ``dataset``, ``simulate`` or ``sources``."""

    dataset: str | None = None
    path: Path | None = None
    simulate: SimulateConfig | None = None
    sources: list[FileSource] | None = Field(None, min_length=1)

    @field_validator("dataset")
    @classmethod
    def _known_dataset(cls, v: str | None) -> str | None:
        from shopml.data.loaders import LOADERS

        if v is not None and v not in LOADERS:
            raise ValueError(f"unknown dataset {v!r}; known: {sorted(LOADERS)}")
        return v

    @model_validator(mode="after")
    def _exactly_one(self) -> DataConfig:
        given = [k for k in ("dataset", "simulate", "sources") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one of dataset, simulate or sources (got {given or 'none'})")
        if self.path is not None and self.dataset is None:
            raise ValueError("path goes with dataset (the folder of a named dataset)")
        return self

    @property
    def kind(self) -> str:
        return "dataset" if self.dataset else "simulate" if self.simulate else "sources"


class EvaluateConfig(Strict):
    """How every step evaluates: bootstrap resamples and interval level of the leaderboards."""

    bootstrap: int = Field(1000, ge=50, le=100_000)
    level: float = Field(0.95, gt=0.5, lt=1.0)
    seed: int = 0


class PipelineConfig(Strict):
    """A whole pipeline file; ``train`` is checked step by step against the step registry."""

    name: str = Field(pattern=_NAME_RE)
    workspace: Path
    registry: Path = Path("artifacts")
    data: DataConfig
    train: dict[str, Any] = Field(min_length=1)
    evaluate: EvaluateConfig = EvaluateConfig()
    register_policy: Literal["best", "all", "none"] = Field("best", alias="register")
    report: Path | None = None
    _steps: dict[str, BaseModel] = PrivateAttr(default_factory=dict)

    def step_configs(self) -> dict[str, BaseModel]:
        """The validated config object of each step, in file order."""
        return dict(self._steps)


# --------------------------------------------------------------------------- loading
def load_pipeline(path: str | Path) -> PipelineConfig:
    """Read and validate a pipeline file; raise :class:`PipelineConfigError` naming line and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ValidationError(f"cannot read pipeline {path}: {exc.strerror or exc}") from None
    return parse_pipeline(text, str(path))


def parse_pipeline(text: str, source: str = "<pipeline>") -> PipelineConfig:
    """Validate pipeline YAML ``text`` (``source`` names it in errors)."""
    from shopml.pipeline.steps import registered_steps

    STEPS = registered_steps()

    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(str(getattr(exc, "problem", None) or exc).split())
        raise PipelineConfigError(source, [(line, "", f"not valid YAML: {msg}")]) from None
    if not isinstance(data, dict):
        raise PipelineConfigError(source, [(1, "", "a pipeline is a mapping of keys (name, workspace, data, train, ...)")])
    lines = _line_index(root)
    problems: list[tuple[int | None, str, str]] = []
    try:
        cfg = PipelineConfig.model_validate(data)
    except PydanticError as exc:
        problems += _problems(exc, lines, ())
        cfg = None
    steps: dict[str, BaseModel] = {}
    train = data.get("train")
    if isinstance(train, dict):
        for name, raw in train.items():
            loc = ("train", name)
            if name not in STEPS:
                problems.append((_line(lines, loc), _dotted(loc), f"unknown step; steps are {sorted(STEPS)}"))
                continue
            try:
                steps[name] = STEPS[name].config.model_validate(raw if raw is not None else {})
            except PydanticError as exc:
                problems += _problems(exc, lines, loc)
    if problems:
        problems.sort(key=lambda p: (p[0] is None, p[0] or 0))
        raise PipelineConfigError(source, problems)
    assert cfg is not None
    cfg._steps = steps
    return cfg


def _line_index(node: yaml.Node | None, path: tuple = ()) -> dict[tuple, int]:
    """Line (1-based) of every key path in the YAML tree: the key's line for mapping entries."""
    out: dict[tuple, int] = {}
    if node is None:
        return out
    out.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            sub = (*path, key.value)
            out[sub] = key.start_mark.line + 1
            for k, v in _line_index(value, sub).items():
                out.setdefault(k, v)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            for k, v in _line_index(item, (*path, i)).items():
                out.setdefault(k, v)
    return out


def _line(lines: dict[tuple, int], loc: tuple) -> int | None:
    """The line of the longest prefix of ``loc`` present in the file (a missing key: its parent)."""
    for n in range(len(loc), -1, -1):
        key = tuple(str(x) if not isinstance(x, int) else x for x in loc[:n])
        if key in lines:
            return lines[key]
    return None


def _dotted(loc: tuple) -> str:
    return re.sub(r"\.\[", "[", ".".join(f"[{x}]" if isinstance(x, int) else str(x) for x in loc))


def _problems(exc: PydanticError, lines: dict[tuple, int], prefix: tuple) -> list[tuple[int | None, str, str]]:
    out = []
    for err in exc.errors(include_url=False):
        # pydantic puts union/model-validator tags into loc; keep only real keys and indices
        loc = (*prefix, *(x for x in err["loc"] if not (isinstance(x, str) and x.startswith("function-"))))
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        elif err["type"] == "missing":
            msg = "required key is missing"
        msg = msg.removeprefix("Value error, ")
        out.append((_line(lines, loc), _dotted(loc), msg))
    return out
