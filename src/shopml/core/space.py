"""Hyper-parameter search spaces, declared next to each model and independent of any tuner.

A model class declares ``search_space: ClassVar[dict[str, Dimension]]``, e.g.::

    search_space = {"l2": LogUniform(10.0, 5000.0)}

:func:`sample_configs` draws configurations from it with a seeded NumPy generator (the local
engine runs them one by one); :mod:`shopml.distributed.tune` turns the same declaration into Ray
Tune distributions and evaluates the same configurations on a Ray cluster. Keeping the
declaration free of Ray means a model file never imports a distributed engine.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from shopml.core.errors import ValidationError


@dataclass(frozen=True)
class Uniform:
    """A float drawn uniformly from ``[low, high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.low) and math.isfinite(self.high) and self.low < self.high):
            raise ValidationError(f"Uniform needs finite low < high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(rng.uniform(self.low, self.high))


@dataclass(frozen=True)
class LogUniform:
    """A positive float whose logarithm is uniform on ``[log low, log high]``."""

    low: float
    high: float

    def __post_init__(self) -> None:
        if not (0 < self.low < self.high and math.isfinite(self.high)):
            raise ValidationError(f"LogUniform needs 0 < low < high, got {self.low}, {self.high}")

    def sample(self, rng: np.random.Generator) -> float:
        return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))


@dataclass(frozen=True)
class IntRange:
    """An integer in ``[low, high]`` (both included), uniform or, with ``log``, log-uniform."""

    low: int
    high: int
    log: bool = False

    def __post_init__(self) -> None:
        if not (isinstance(self.low, int) and isinstance(self.high, int) and self.low <= self.high):
            raise ValidationError(
                f"IntRange needs integers low <= high, got {self.low}, {self.high}"
            )
        if self.log and self.low < 1:
            raise ValidationError(f"IntRange(log=True) needs low >= 1, got {self.low}")

    def sample(self, rng: np.random.Generator) -> int:
        if self.log:
            # uniform in log space over [low, high + 1) then floored: every integer reachable
            value = math.exp(rng.uniform(math.log(self.low), math.log(self.high + 1)))
            return int(min(max(math.floor(value), self.low), self.high))
        return int(rng.integers(self.low, self.high + 1))


@dataclass(frozen=True)
class Choice:
    """One of a fixed list of values (JSON scalars: numbers, strings, booleans, None)."""

    values: tuple[Any, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValidationError("Choice needs at least one value")
        object.__setattr__(self, "values", tuple(self.values))

    def sample(self, rng: np.random.Generator) -> Any:
        value = self.values[int(rng.integers(len(self.values)))]
        return value.item() if isinstance(value, np.generic) else value


Dimension = Uniform | LogUniform | IntRange | Choice
SearchSpace = dict[str, Dimension]


def check_space(space: Any, owner: str = "model") -> SearchSpace:
    """``space`` if it is a non-empty ``{name: Dimension}``; a clear error otherwise."""
    if not isinstance(space, dict) or not space:
        raise ValidationError(f"{owner} declares no search space (a dict of name -> Dimension)")
    bad = {
        k: type(v).__name__
        for k, v in space.items()
        if not isinstance(v, (Uniform, LogUniform, IntRange, Choice))
    }
    if bad:
        raise ValidationError(
            f"{owner}: search space entries {bad} are not Uniform/LogUniform/IntRange/Choice"
        )
    return space


def sample_configs(
    space: SearchSpace, n: int, seed: int = 0, fixed: dict[str, Any] | None = None
) -> list[dict[str, Any]]:
    """``n`` configurations drawn from ``space`` (plus the ``fixed`` values), reproducible by ``seed``.

    Names in ``fixed`` are not searched. Duplicates (a small discrete space) are dropped, so fewer
    than ``n`` configurations may come back.
    """
    if not isinstance(n, (int, np.integer)) or n < 1:
        raise ValidationError(f"number of trials must be a positive integer, got {n!r}")
    fixed = dict(fixed or {})
    rng = np.random.default_rng(seed)
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for _ in range(int(n)):
        config = {k: d.sample(rng) for k, d in space.items() if k not in fixed}
        config.update(fixed)
        key = repr(sorted(config.items(), key=lambda kv: kv[0]))
        if key not in seen:
            seen.add(key)
            out.append(config)
    return out


def model_search_space(klass: type) -> SearchSpace:
    """The ``search_space`` a model class declares (see the module docstring)."""
    return check_space(getattr(klass, "search_space", None), klass.__name__)


__all__ = [
    "Choice",
    "Dimension",
    "IntRange",
    "LogUniform",
    "SearchSpace",
    "Uniform",
    "check_space",
    "model_search_space",
    "sample_configs",
]
