"""Search-space declarations: bounds, reproducible sampling, clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from shopml.core.errors import ValidationError
from shopml.core.space import (
    Choice,
    IntRange,
    LogUniform,
    Uniform,
    check_space,
    model_search_space,
    sample_configs,
)


def test_samples_stay_in_bounds_and_cover_the_range():
    rng = np.random.default_rng(0)
    u = np.array([Uniform(-1.0, 2.0).sample(rng) for _ in range(2000)])
    lu = np.array([LogUniform(1e-3, 10.0).sample(rng) for _ in range(2000)])
    ints = np.array([IntRange(3, 7).sample(rng) for _ in range(2000)])
    logints = np.array([IntRange(1, 1000, log=True).sample(rng) for _ in range(4000)])
    assert u.min() >= -1 and u.max() <= 2 and abs(u.mean() - 0.5) < 0.1
    # log-uniform: log10 values uniform on [-3, 1], so the median is near 10^-1
    assert lu.min() >= 1e-3 and lu.max() <= 10 and 0.05 < np.median(lu) < 0.2
    assert set(ints) == {3, 4, 5, 6, 7}
    assert logints.min() >= 1 and logints.max() <= 1000 and np.median(logints) < 100
    assert all(isinstance(v, int) for v in logints.tolist())
    assert {Choice(("a", "b")).sample(rng) for _ in range(50)} == {"a", "b"}


def test_configs_are_reproducible_and_fixed_values_win():
    space = {"l2": LogUniform(1.0, 100.0), "k": IntRange(1, 50)}
    a = sample_configs(space, 5, seed=1)
    assert a == sample_configs(space, 5, seed=1) and a != sample_configs(space, 5, seed=2)
    fixed = sample_configs(space, 5, seed=1, fixed={"k": 7})
    assert all(c["k"] == 7 for c in fixed) and [c["l2"] for c in fixed] != []
    # a tiny discrete space yields each distinct configuration once
    assert len(sample_configs({"c": Choice((1, 2))}, 20, seed=0)) == 2


def test_bad_declarations_are_refused():
    with pytest.raises(ValidationError, match="low < high"):
        Uniform(1.0, 1.0)
    with pytest.raises(ValidationError, match="0 < low"):
        LogUniform(0.0, 1.0)
    with pytest.raises(ValidationError, match="integers"):
        IntRange(1.5, 3)
    with pytest.raises(ValidationError, match="at least one"):
        Choice(())
    with pytest.raises(ValidationError, match="not Uniform"):
        check_space({"x": (0, 1)}, "M")
    with pytest.raises(ValidationError, match="positive integer"):
        sample_configs({"x": Uniform(0, 1)}, 0)

    class NoSpace:
        pass

    with pytest.raises(ValidationError, match="NoSpace declares no search space"):
        model_search_space(NoSpace)
