"""Bandit policies with propensities, off-policy evaluation, budget pacing and a session RL agent.

>>> from shopml.bandits import LinearTS
>>> policy = LinearTS().fit(n_actions=20, n_features=16)
>>> choice = policy.choose(X, n=1)          # actions and propensities, (rows, 1) each
>>> policy.update(X, choice.actions[:, 0], clicks, choice.propensity[:, 0])

See ``docs/bandits.md``.
"""

from shopml.bandits.base import Choice, Policy
from shopml.bandits.context_free import UCB1, BernoulliTS, EpsilonGreedy
from shopml.bandits.linear import LinearTS, LinUCB
from shopml.bandits.ope import BanditLogs, estimate, evaluate

__all__ = [
    "UCB1",
    "BanditLogs",
    "BernoulliTS",
    "Choice",
    "EpsilonGreedy",
    "LinUCB",
    "LinearTS",
    "Policy",
    "estimate",
    "evaluate",
]
