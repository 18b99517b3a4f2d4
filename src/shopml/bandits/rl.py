"""A DQN-style session agent (torch): replay buffer, target network, ε-greedy exploration.

It recommends within a session to maximise purchases over the session rather than the next
click (Mnih et al. 2015, with the double-DQN target of van Hasselt et al. 2016). Sessions run in
parallel against a vectorised environment (:class:`shopml.data.synth.env.SessionEnv` or anything
with ``reset(n)``, ``step(actions)``, ``active``, ``state_dim`` and ``n_actions``).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator
from shopml.core.progress import track
from shopml.core.torch_common import module_to_numpy, numpy_to_module


def _mlp(d: int, hidden: int, k: int) -> nn.Module:
    return nn.Sequential(
        nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, k)
    )


class DQNAgent(Estimator):
    """Deep Q-network over session states; ``act`` picks the arm with the highest Q.

    Parameters
    ----------
    hidden: width of the two hidden layers.
    gamma: discount per step (purchases later in the session count almost fully).
    lr: Adam learning rate.
    buffer_size, batch_size: replay memory and minibatch.
    target_every: gradient steps between copies of the online network into the target.
    epsilon_start, epsilon_end: exploration, decayed linearly over the first half of training.
    reward_scale: rewards are multiplied by this for training (purchases are rare).
    """

    capability = "bandits"

    def __init__(
        self,
        hidden: int = 64,
        gamma: float = 0.95,
        lr: float = 1e-3,
        buffer_size: int = 200_000,
        batch_size: int = 512,
        target_every: int = 200,
        epsilon_start: float = 1.0,
        epsilon_end: float = 0.05,
        reward_scale: float = 10.0,
        seed: int = 0,
    ) -> None:
        self.hidden = hidden
        self.gamma = gamma
        self.lr = lr
        self.buffer_size = buffer_size
        self.batch_size = batch_size
        self.target_every = target_every
        self.epsilon_start = epsilon_start
        self.epsilon_end = epsilon_end
        self.reward_scale = reward_scale
        self.seed = seed

    def _build(self, state_dim: int, n_actions: int) -> None:
        torch.manual_seed(int(self.seed))
        self.state_dim_, self.n_actions_ = int(state_dim), int(n_actions)
        self.q_ = _mlp(self.state_dim_, int(self.hidden), self.n_actions_)
        self.target_ = _mlp(self.state_dim_, int(self.hidden), self.n_actions_)
        self.target_.load_state_dict(self.q_.state_dict())

    def fit(
        self,
        env: Any,
        n_sessions: int = 20_000,
        parallel: int = 256,
        updates_per_step: int | None = None,
    ) -> DQNAgent:
        """Train on ``n_sessions`` simulated sessions, ``parallel`` at a time.

        ``updates_per_step``: gradient steps per environment step (default ``parallel // 16``:
        about one minibatch per 16 new transitions).
        """
        if updates_per_step is None:
            updates_per_step = max(1, parallel // 16)
        if not 0 <= float(self.gamma) < 1:
            raise ValidationError(f"gamma must be in [0, 1), got {self.gamma}")
        if n_sessions < 1 or parallel < 1:
            raise ValidationError("n_sessions and parallel must be >= 1")
        self._build(env.state_dim, env.n_actions)
        rng = np.random.default_rng(self.seed)
        opt = torch.optim.Adam(self.q_.parameters(), lr=float(self.lr))
        cap, d = int(self.buffer_size), self.state_dim_
        S, A, R, S2, D = (
            np.zeros((cap, d), np.float32),
            np.zeros(cap, np.int64),
            np.zeros(cap, np.float32),
            np.zeros((cap, d), np.float32),
            np.zeros(cap, np.float32),
        )
        size = ptr = steps = 0
        n_batches = int(np.ceil(n_sessions / parallel))
        self.losses_: list[float] = []
        for b in track(range(n_batches), "DQN training"):
            eps = max(
                float(self.epsilon_end),
                float(self.epsilon_start)
                - (float(self.epsilon_start) - float(self.epsilon_end))
                * b
                / max(1, n_batches // 2),
            )
            s = env.reset(parallel)
            while env.active.any():
                act = env.active.copy()
                a = self.act(s, epsilon=eps, rng=rng)
                s2, r, _, done = env.step(a)
                m = int(act.sum())
                idx = (ptr + np.arange(m)) % cap
                S[idx], A[idx], R[idx], S2[idx], D[idx] = (
                    s[act],
                    a[act],
                    r[act] * float(self.reward_scale),
                    s2[act],
                    done[act],
                )
                ptr, size = (ptr + m) % cap, min(cap, size + m)
                s = s2
                for _ in range(updates_per_step):
                    j = rng.integers(0, size, min(int(self.batch_size), size))
                    st, at, rt, s2t, dt = (torch.as_tensor(x[j]) for x in (S, A, R, S2, D))
                    with torch.no_grad():
                        best = self.q_(s2t).argmax(
                            1, keepdim=True
                        )  # double DQN: online picks, target rates
                        y = rt + float(self.gamma) * (1 - dt) * self.target_(s2t).gather(
                            1, best
                        ).squeeze(1)
                    q = self.q_(st).gather(1, at[:, None]).squeeze(1)
                    loss = nn.functional.smooth_l1_loss(q, y)
                    opt.zero_grad()
                    loss.backward()
                    opt.step()
                    steps += 1
                    if steps % int(self.target_every) == 0:
                        self.target_.load_state_dict(self.q_.state_dict())
            self.losses_.append(float(loss.detach()))
        self.fitted_ = True
        return self

    def q_values(self, states: Any) -> np.ndarray:
        """``(rows, n_actions)`` estimated purchases to come (scaled by ``reward_scale``)."""
        X = np.asarray(states, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.state_dim_:
            raise ValidationError(f"states must be (rows, {self.state_dim_}), got {X.shape}")
        with torch.no_grad():
            return self.q_(torch.as_tensor(X)).numpy()

    def act(
        self, states: Any, epsilon: float = 0.0, rng: np.random.Generator | None = None
    ) -> np.ndarray:
        """The arm per state with the highest Q (random with probability ``epsilon``)."""
        if not hasattr(self, "q_"):
            self._check_fitted()
        a = self.q_values(states).argmax(1)
        if epsilon > 0:
            rng = rng or np.random.default_rng()
            explore = rng.random(a.size) < epsilon
            a[explore] = rng.integers(0, self.n_actions_, int(explore.sum()))
        return a

    def _get_state(self) -> dict[str, np.ndarray]:
        return module_to_numpy(self.q_)

    def _meta(self) -> dict[str, Any]:
        return {"state_dim": self.state_dim_, "n_actions": self.n_actions_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        self._build(meta["state_dim"], meta["n_actions"])
        numpy_to_module(self.q_, arrays)
        self.target_.load_state_dict(self.q_.state_dict())


def run_sessions(
    env: Any, act: Any, n_sessions: int, parallel: int = 1000, learn: Any = None
) -> np.ndarray:
    """Purchases per session of the policy ``act(states) -> arms`` over ``n_sessions`` sessions.

    ``learn(states, arms, purchases, clicks, active)`` (optional) is called after every step, for
    a policy that learns as it goes.
    """
    out = []
    left = n_sessions
    while left > 0:
        m = min(parallel, left)
        s = env.reset(m)
        total = np.zeros(m)
        while env.active.any():
            active = env.active.copy()
            a = np.asarray(act(s)).ravel()
            s2, r, c, _ = env.step(a)
            total += r
            if learn is not None:
                learn(s, a, r, c, active)
            s = s2
        out.append(total)
        left -= m
    return np.concatenate(out)


__all__ = ["DQNAgent", "run_sessions"]
