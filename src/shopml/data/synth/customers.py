"""Simulated customers: sign-up, demographics, latent taste, price sensitivity, activity, devices."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from shopml.data.synth.calendar import DAY, HOURS, Calendar, sample_seconds
from shopml.data.synth.config import SimConfig
from shopml.data.synth.strings import ids, json_objects
from shopml.data.synth.words import AGE_BANDS, CHANNELS, COUNTRIES, COUNTRY_WEIGHTS, DEVICES

DEVICE_WEIGHTS = (0.6, 0.32, 0.08)
CHANNEL_WEIGHTS = (0.35, 0.25, 0.15, 0.1, 0.15)
AGE_WEIGHTS = (0.14, 0.28, 0.24, 0.18, 0.16)
# log price sensitivity by age band: the young are the most price sensitive
AGE_SENSITIVITY = np.array([0.35, 0.15, 0.0, -0.1, -0.15])
SHARED_DEVICE_SHARE = 0.04  # honest households: a user who shops on another user's device
TENURE_DAYS = 500.0  # mean account age of customers who signed up before the horizon


@dataclass(frozen=True)
class Customers:
    """Users as parallel arrays; index = internal user number."""

    signup_sec: np.ndarray  # seconds from the start of the horizon (negative: before it)
    country: np.ndarray  # index into COUNTRIES
    device: np.ndarray  # index into DEVICES
    channel: np.ndarray  # index into CHANNELS
    age_band: np.ndarray  # index into AGE_BANDS
    taste: np.ndarray  # (n, k) theta_u
    price_sensitivity: np.ndarray  # beta_u > 0
    activity: np.ndarray  # lambda_u, sessions per day before seasonality
    device_num: np.ndarray  # the physical device the user shops on
    fraud: np.ndarray  # bool: an account opened by a fraudster

    @property
    def n(self) -> int:
        return self.signup_sec.size

    def concat(self, other: Customers) -> Customers:
        """These users followed by ``other``'s."""
        return Customers(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(self)
            }
        )


def make_customers(cfg: SimConfig, rng: np.random.Generator, cal: Calendar) -> Customers:
    """Draw the shop's honest customers."""
    n, k = cfg.n_users, cfg.n_factors
    new = rng.random(n) < cfg.new_user_share
    signup = -rng.exponential(TENURE_DAYS, n) * DAY
    signup[new] = sample_seconds(rng, rng.integers(0, cfg.days, int(new.sum())), HOURS)
    age_band = rng.choice(len(AGE_BANDS), size=n, p=AGE_WEIGHTS)
    device_num = np.arange(n)
    sharers = np.flatnonzero(rng.random(n) < SHARED_DEVICE_SHARE)
    device_num[sharers] = rng.integers(0, n, sharers.size)
    return Customers(
        signup_sec=signup,
        country=rng.choice(len(COUNTRIES), size=n, p=COUNTRY_WEIGHTS),
        device=rng.choice(len(DEVICES), size=n, p=DEVICE_WEIGHTS),
        channel=rng.choice(len(CHANNELS), size=n, p=CHANNEL_WEIGHTS),
        age_band=age_band,
        taste=rng.normal(size=(n, k)) / np.sqrt(k),
        price_sensitivity=np.exp(AGE_SENSITIVITY[age_band] + 0.4 * rng.normal(size=n)),
        activity=rng.gamma(cfg.activity_shape, cfg.session_rate / cfg.activity_shape, n),
        device_num=device_num,
        fraud=np.zeros(n, dtype=bool),
    )


def user_ids(cust: Customers) -> np.ndarray:
    """Ids numbered in sign-up order, as a shop's auto-increment would (so an id tells no more)."""
    order = np.argsort(cust.signup_sec, kind="stable")
    rank = np.empty(cust.n, dtype=np.int64)
    rank[order] = np.arange(cust.n)
    return ids("u", rank, 7)


def users_frame(cust: Customers, uid: np.ndarray, cal: Calendar) -> pd.DataFrame:
    """The canonical ``users`` table, in sign-up order."""
    attributes = json_objects(
        {
            "device": (np.asarray(DEVICES, dtype=object)[cust.device], True),
            "channel": (np.asarray(CHANNELS, dtype=object)[cust.channel], True),
            "age_band": (np.asarray(AGE_BANDS, dtype=object)[cust.age_band], True),
        }
    )
    order = np.argsort(cust.signup_sec, kind="stable")
    return pd.DataFrame(
        {
            "user_id": uid[order],
            "signup_ts": cal.timestamps(cust.signup_sec[order]),
            "country": np.asarray(COUNTRIES, dtype=object)[cust.country[order]],
            "attributes": attributes[order],
        }
    )
