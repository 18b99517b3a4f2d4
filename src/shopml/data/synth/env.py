"""The shop simulator as step-by-step environments, with the true rates known.

The environments reuse the simulator's generative model (see :mod:`shopml.data.synth`): the
catalogue and the customers are drawn by the same functions and from the same random streams as
:func:`~shopml.data.synth.simulate` with the same :class:`SimConfig`, so item ``i`` and user ``u``
are the same in the tables and in the environment. Nothing about the model is restated here
except what a step needs:

- attraction of item ``a`` to user ``u``: ``sigmoid(ALPHA_CLICK + theta_u . phi_a + q_a)`` and
  examination ``k ** -examination_decay`` at position ``k`` (the impressions' click model);
- purchase after a click: the funnel at the list price,
  ``view_to_cart * sigmoid(ALPHA_CART + v) * cart_to_purchase * sigmoid(ALPHA_BUY + BUY_UTILITY v)``
  with ``v = theta_u . phi_a + q_a - beta_u rel_price_a`` (the sessions' utility).

What a shop observes about a visitor (the *context*): its taste as the shop's own embedding would
estimate it from history, ``sqrt(k) (theta_u + context_noise / sqrt(k) N(0, I))`` (a noisy,
standardised copy), its age band and device (one-hot). Visitors arrive in proportion to their
activity ``lambda_u``; the arms are ``n_arms`` items drawn once in proportion to ``exp(q_i)``
(a campaign's banner products).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import expit

from shopml.core.errors import ValidationError
from shopml.data.synth.calendar import HOURS, make_calendar
from shopml.data.synth.catalogue import Catalogue, make_catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.customers import Customers, make_customers
from shopml.data.synth.impressions import ALPHA_CLICK
from shopml.data.synth.sessions import ALPHA_BUY, ALPHA_CART, BUY_UTILITY
from shopml.data.synth.words import AGE_BANDS, DEVICES


def _world(cfg: SimConfig) -> tuple[Catalogue, Customers]:
    """The catalogue and honest customers exactly as :func:`simulate` draws them."""
    from shopml.data.synth.engine import STREAMS

    cfg.validate()
    seqs = np.random.SeedSequence(cfg.seed).spawn(len(STREAMS))
    rng = {name: np.random.default_rng(s) for name, s in zip(STREAMS, seqs, strict=True)}
    cat = make_catalogue(cfg, rng["catalogue"])
    cust = make_customers(cfg, rng["customers"], make_calendar(cfg))
    return cat, cust


@dataclass(frozen=True)
class Round:
    """A batch of visitors: what the policy sees (``context``) and what it does not (``users``)."""

    context: np.ndarray  # (n, n_features)
    users: np.ndarray  # (n,) user indices
    hour: np.ndarray  # (n,) hour of the day (used by the pacing benchmark)


class BanditEnv:
    """Contextual slate bandit over the simulated shop; the true click rates are known.

    >>> env = BanditEnv(SimConfig(n_users=2000, n_items=200), n_arms=10, seed=1)
    >>> rnd = env.observe(256)                      # contexts of 256 visitors
    >>> clicks = env.step(rnd, actions)             # actions: (256, slots) arm indices
    >>> env.regret(rnd, actions)                    # expected clicks lost vs the best slate
    """

    def __init__(
        self,
        config: SimConfig | None = None,
        n_arms: int = 20,
        context_noise: float = 0.5,
        seed: int = 0,
    ) -> None:
        self.config = cfg = config if config is not None else SimConfig()
        self.cat, self.cust = _world(cfg)
        if not 1 <= n_arms <= self.cat.n:
            raise ValidationError(f"n_arms must be in 1..{self.cat.n}, got {n_arms}")
        if not context_noise >= 0:
            raise ValidationError(f"context_noise must be >= 0, got {context_noise}")
        self.rng = np.random.default_rng(seed)
        w = np.exp(self.cat.quality - self.cat.quality.max())
        self.arms = np.sort(self.rng.choice(self.cat.n, n_arms, replace=False, p=w / w.sum()))
        k = cfg.n_factors
        self.n_arms = int(n_arms)
        self.examination = np.arange(1, cfg.n_candidates + 1, dtype=float) ** -cfg.examination_decay
        # the shop's estimate of each user's taste: fixed per user (it comes from their history)
        self._est = np.sqrt(k) * self.cust.taste + context_noise * self.rng.normal(
            size=self.cust.taste.shape
        )
        self._visit = self.cust.activity / self.cust.activity.sum()
        self.n_features = k + len(AGE_BANDS) + len(DEVICES)

    # ------------------------------------------------------------------ contexts and truth
    def features(self, users: np.ndarray) -> np.ndarray:
        """The context a shop observes for ``users``: taste estimate, age band, device."""
        age = np.eye(len(AGE_BANDS))[self.cust.age_band[users]]
        dev = np.eye(len(DEVICES))[self.cust.device[users]]
        return np.hstack([self._est[users], age, dev])

    def observe(self, n: int) -> Round:
        """``n`` visitors drawn in proportion to their activity."""
        users = self.rng.choice(self.cust.n, n, p=self._visit)
        hour = self.rng.choice(24, n, p=HOURS / HOURS.sum())
        return Round(self.features(users), users, hour)

    def attraction(self, users: np.ndarray, arms: np.ndarray | None = None) -> np.ndarray:
        """True click probability at a fully examined position, ``(n, n_arms)`` (or given arms)."""
        items = self.arms if arms is None else self.arms[arms]
        z = (
            ALPHA_CLICK
            + self.cust.taste[users] @ self.cat.factors[items].T
            + self.cat.quality[items]
        )
        return expit(z)

    def purchase_given_click(self, users: np.ndarray) -> np.ndarray:
        """True P(purchase | click) at the list price, ``(n, n_arms)`` (the funnel)."""
        items = self.arms
        v = (
            self.cust.taste[users] @ self.cat.factors[items].T
            + self.cat.quality[items]
            - self.cust.price_sensitivity[users][:, None] * self.cat.rel_price[items][None, :]
        )
        cfg = self.config
        return (
            cfg.view_to_cart
            * expit(ALPHA_CART + v)
            * cfg.cart_to_purchase
            * expit(ALPHA_BUY + BUY_UTILITY * v)
        )

    def _check_actions(self, rnd: Round, actions: np.ndarray) -> np.ndarray:
        a = np.asarray(actions)
        if a.ndim == 1:
            a = a[:, None]
        if a.shape[0] != rnd.users.size or a.shape[1] > self.examination.size:
            raise ValidationError(
                f"actions must be (rows={rnd.users.size}, slots<={self.examination.size}), got {a.shape}"
            )
        if a.min() < 0 or a.max() >= self.n_arms:
            raise ValidationError(f"actions must be arm indices 0..{self.n_arms - 1}")
        return a.astype(np.int64)

    def expected(self, rnd: Round, actions: np.ndarray) -> np.ndarray:
        """True click probability of each shown (row, slot): examination x attraction."""
        a = self._check_actions(rnd, actions)
        att = np.take_along_axis(self.attraction(rnd.users), a, axis=1)
        return att * self.examination[None, : a.shape[1]]

    def best(self, rnd: Round, slots: int = 1) -> np.ndarray:
        """Expected clicks of the best slate of ``slots`` (the most attractive arms, in order)."""
        att = -np.sort(-self.attraction(rnd.users), axis=1)[:, :slots]
        return (att * self.examination[None, :slots]).sum(axis=1)

    def step(self, rnd: Round, actions: np.ndarray) -> np.ndarray:
        """Clicks ``(rows, slots)`` drawn from the position-based model."""
        p = self.expected(rnd, actions)
        return (self.rng.random(p.shape) < p).astype(np.float64)

    def regret(self, rnd: Round, actions: np.ndarray) -> np.ndarray:
        """Per row: expected clicks of the best slate minus those of ``actions``."""
        a = self._check_actions(rnd, actions)
        return self.best(rnd, a.shape[1]) - self.expected(rnd, a).sum(axis=1)


class SessionEnv:
    """Sessions as a Markov decision process: state -> recommended arm -> next state.

    ``n`` sessions run in parallel (vectorised). At each step the shop recommends one arm; the
    visitor clicks with the attraction (times ``repeat_factor`` for an arm already shown in this
    session), a click becomes a purchase with the funnel's probability, and the visitor stays for
    another step with probability ``stay_click`` after a click and ``stay_no_click`` otherwise
    (irrelevant recommendations wear patience out), for at most ``horizon`` steps. The reward is
    purchases. ``click_intent`` multiplies the funnel's purchase probability after a click (capped
    at 1): an assumption, not a measured rate -- a click on a recommendation signals more intent
    than a browsing view, and without it purchases are too rare to compare agents in minutes. The state is the context, the step, the clicks so far and the arms already shown.
    """

    def __init__(
        self,
        bandit: BanditEnv,
        horizon: int = 10,
        stay_click: float = 0.9,
        stay_no_click: float = 0.6,
        repeat_factor: float = 0.3,
        click_intent: float = 10.0,
    ) -> None:
        for name, v in (
            ("stay_click", stay_click),
            ("stay_no_click", stay_no_click),
            ("repeat_factor", repeat_factor),
        ):
            if not 0 <= v <= 1:
                raise ValidationError(f"{name} must be a probability, got {v}")
        if horizon < 1:
            raise ValidationError(f"horizon must be >= 1, got {horizon}")
        self.bandit = bandit
        self.horizon, self.stay_click, self.stay_no_click = int(horizon), stay_click, stay_no_click
        self.repeat_factor = repeat_factor
        if not click_intent > 0:
            raise ValidationError(f"click_intent must be > 0, got {click_intent}")
        self.click_intent = click_intent
        self.n_actions = bandit.n_arms
        self.state_dim = bandit.n_features + 2 + bandit.n_arms

    def reset(self, n: int) -> np.ndarray:
        """Start ``n`` sessions; returns their states ``(n, state_dim)``."""
        rnd = self.bandit.observe(n)
        self._ctx, self._users = rnd.context, rnd.users
        self._att = self.bandit.attraction(rnd.users)
        self._buy = np.minimum(1.0, self.click_intent * self.bandit.purchase_given_click(rnd.users))
        self._t = np.zeros(n)
        self._clicks = np.zeros(n)
        self._shown = np.zeros((n, self.n_actions))
        self.active = np.ones(n, dtype=bool)
        return self.state()

    def state(self) -> np.ndarray:
        """The observable state of every session."""
        h = self.horizon
        return np.hstack(
            [self._ctx, (self._t / h)[:, None], (self._clicks / h)[:, None], self._shown]
        )

    def step(self, actions: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Apply one arm per session; returns (next state, purchases, clicks, done).

        Sessions already over stay over and get no reward.
        """
        a = np.asarray(actions, dtype=np.int64).ravel()
        n = self._t.size
        if a.size != n or a.min() < 0 or a.max() >= self.n_actions:
            raise ValidationError(f"actions must be {n} arm indices in 0..{self.n_actions - 1}")
        rng = self.bandit.rng
        rows = np.arange(n)
        seen = self._shown[rows, a] > 0
        p_click = self._att[rows, a] * np.where(seen, self.repeat_factor, 1.0)
        click = (rng.random(n) < p_click) & self.active
        buy = click & (rng.random(n) < self._buy[rows, a])
        self._shown[rows[self.active], a[self.active]] = 1.0
        self._clicks += click
        self._t += self.active
        stay = rng.random(n) < np.where(click, self.stay_click, self.stay_no_click)
        was = self.active.copy()
        self.active = self.active & stay & (self._t < self.horizon)
        done = was & ~self.active
        return self.state(), buy.astype(np.float64), click.astype(np.float64), done


__all__ = ["BanditEnv", "Round", "SessionEnv"]
