"""A neural contextual policy for non-linear contexts: a torch network with bootstrapped heads.

Osband et al. (2016) style: a shared body and ``n_heads`` output heads, each trained on its own
bootstrap of the data (every observation gets a Poisson(1) weight per head, drawn once when it
arrives). A decision picks one head uniformly at random and ranks the arms by that head's click
probabilities, so the propensity is exact: the share of heads that put the arm at the position
(mixed with ``epsilon`` uniform exploration). Rewards are click-type, in [0, 1]; under the
position-based model a head predicts ``examination * sigmoid(logit)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from shopml.bandits.base import Policy
from shopml.core.errors import ValidationError
from shopml.core.torch_common import module_to_numpy, numpy_to_module


class _Heads(nn.Module):
    def __init__(self, d: int, hidden: int, n_heads: int, n_actions: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU()
        )
        self.heads = nn.Linear(hidden, n_heads * n_actions)
        self.n_heads, self.n_actions = n_heads, n_actions

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (rows, heads, actions) logits
        return self.heads(self.body(x)).view(-1, self.n_heads, self.n_actions)


class NeuralBootstrap(Policy):
    """Bootstrapped-heads network (torch) trained online from a replay buffer.

    Parameters
    ----------
    hidden: width of the two hidden layers.
    n_heads: bootstrap heads (the propensity resolution is ``1 / n_heads``).
    lr, weight_decay: Adam settings.
    train_steps: minibatch steps after each ``update`` call; batch_size rows per step.
    buffer_size: the most recent rows kept for training.
    epsilon: uniform exploration mixed into every decision.
    """

    contextual = True

    def __init__(
        self,
        hidden: int = 32,
        n_heads: int = 10,
        lr: float = 0.01,
        weight_decay: float = 1e-4,
        train_steps: int = 20,
        batch_size: int = 256,
        buffer_size: int = 50_000,
        epsilon: float = 0.0,
        examination: tuple[float, ...] | None = None,
        seed: int = 0,
    ):
        self.hidden = hidden
        self.n_heads = n_heads
        self.lr = lr
        self.weight_decay = weight_decay
        self.train_steps = train_steps
        self.batch_size = batch_size
        self.buffer_size = buffer_size
        self.epsilon = epsilon
        self.examination = examination
        self.seed = seed

    def _init(self) -> None:
        for name in ("hidden", "n_heads", "batch_size", "buffer_size"):
            if int(getattr(self, name)) < 1:
                raise ValidationError(f"{name} must be >= 1, got {getattr(self, name)}")
        if int(self.train_steps) < 0:
            raise ValidationError(f"train_steps must be >= 0, got {self.train_steps}")
        self._build()
        d, H = self.n_features_, int(self.n_heads)
        self.buf_x_ = np.zeros((0, d), np.float32)
        self.buf_a_ = np.zeros(0, np.int64)
        self.buf_r_ = np.zeros(0, np.float32)
        self.buf_w_ = np.zeros(0, np.float32)
        self.buf_mask_ = np.zeros((0, H), np.float32)

    def _build(self) -> None:
        torch.manual_seed(int(self.seed))
        self.net_ = _Heads(self.n_features_, int(self.hidden), int(self.n_heads), self.n_actions_)
        self.opt_ = torch.optim.Adam(
            self.net_.parameters(), lr=float(self.lr), weight_decay=float(self.weight_decay)
        )

    def _modes(self, X: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        with torch.no_grad():
            logits = self.net_(torch.as_tensor(X, dtype=torch.float32))
        return logits.numpy().astype(np.float64).transpose(1, 0, 2)

    def _update(self, X: np.ndarray, a: np.ndarray, r: np.ndarray, w: np.ndarray) -> None:
        if r.size and (r.min() < 0 or r.max() > 1):
            raise ValidationError("NeuralBootstrap learns click-type rewards in [0, 1]")
        cap = int(self.buffer_size)
        mask = self.rng_.poisson(1.0, (a.size, int(self.n_heads))).astype(np.float32)
        self.buf_x_ = np.vstack([self.buf_x_, X.astype(np.float32)])[-cap:]
        self.buf_a_ = np.concatenate([self.buf_a_, a])[-cap:]
        self.buf_r_ = np.concatenate([self.buf_r_, r.astype(np.float32)])[-cap:]
        self.buf_w_ = np.concatenate([self.buf_w_, w.astype(np.float32)])[-cap:]
        self.buf_mask_ = np.vstack([self.buf_mask_, mask])[-cap:]
        n = self.buf_a_.size
        for _ in range(int(self.train_steps)):
            idx = self.rng_.integers(0, n, min(int(self.batch_size), n))
            x = torch.as_tensor(self.buf_x_[idx])
            act = torch.as_tensor(self.buf_a_[idx])
            logit = self.net_(x)[torch.arange(idx.size), :, act]  # (batch, heads)
            p = (torch.as_tensor(self.buf_w_[idx])[:, None] * torch.sigmoid(logit)).clamp(
                1e-6, 1 - 1e-6
            )
            y = torch.as_tensor(self.buf_r_[idx])[:, None]
            m = torch.as_tensor(self.buf_mask_[idx])
            loss = -(m * (y * torch.log(p) + (1 - y) * torch.log1p(-p))).sum() / m.sum().clamp(
                min=1.0
            )
            self.opt_.zero_grad()
            loss.backward()
            self.opt_.step()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {
            **self._base_state(),
            **module_to_numpy(self.net_),
            "buf_x": self.buf_x_,
            "buf_a": self.buf_a_,
            "buf_r": self.buf_r_,
            "buf_w": self.buf_w_,
            "buf_mask": self.buf_mask_,
        }

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        super()._set_state(arrays, meta)
        self._build()
        numpy_to_module(self.net_, {k: v for k, v in arrays.items() if k.startswith("module.")})
        self.buf_x_ = arrays["buf_x"]
        self.buf_a_ = arrays["buf_a"].astype(np.int64)
        self.buf_r_ = arrays["buf_r"]
        self.buf_w_ = arrays["buf_w"]
        self.buf_mask_ = arrays["buf_mask"]


__all__ = ["NeuralBootstrap"]
