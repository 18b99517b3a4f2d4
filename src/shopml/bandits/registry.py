"""Policy names (for the CLI, the service and the spec) and the benchmark's default settings."""

from __future__ import annotations

from typing import Any

from shopml.bandits.base import Policy
from shopml.bandits.context_free import UCB1, BernoulliTS, EpsilonGreedy
from shopml.bandits.linear import LinearTS, LinUCB
from shopml.bandits.neural import NeuralBootstrap
from shopml.core.errors import ValidationError

POLICIES: dict[str, type[Policy]] = {
    "epsilon_greedy": EpsilonGreedy,
    "ucb1": UCB1,
    "bernoulli_ts": BernoulliTS,
    "linucb": LinUCB,
    "linear_ts": LinearTS,
    "neural_bootstrap": NeuralBootstrap,
}


def models() -> dict[str, type[Policy]]:
    """Model name -> class (the spec's ``models``)."""
    return dict(POLICIES)


def make_policy(name: str, **params: Any) -> Policy:
    """A fresh policy by name; unknown names list the known ones."""
    cls = POLICIES.get(name.replace("-", "_").lower())
    if cls is None:
        raise ValidationError(f"unknown policy {name!r}; known: {sorted(POLICIES)}")
    return cls(**params)


def default_policies(examination: tuple[float, ...] | None = None) -> dict[str, Policy]:
    """Every policy with the settings the benchmark reports (chosen before the runs)."""
    return {
        "uniform_random": EpsilonGreedy(epsilon=1.0, examination=examination),
        "epsilon_greedy": EpsilonGreedy(epsilon=0.1, examination=examination),
        "ucb1": UCB1(examination=examination),
        "bernoulli_ts": BernoulliTS(n_samples=32, examination=examination),
        "linucb": LinUCB(alpha=0.5, examination=examination),
        "linear_ts": LinearTS(v=0.3, n_samples=32, examination=examination),
        "neural_bootstrap": NeuralBootstrap(train_steps=5, examination=examination),
    }


__all__ = ["POLICIES", "default_policies", "make_policy", "models"]
