"""Daily price paths: occasional regular price changes plus promotions, independent of demand.

Prices move at random times by random amounts, never in response to demand, so the
elasticities stay identifiable from the simulated sales (a shop's real prices are not
like that; the simulator's are meant to be a clean experiment).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopml.data.synth.calendar import Calendar
from shopml.data.synth.catalogue import Catalogue
from shopml.data.synth.config import SimConfig
from shopml.data.synth.strings import boolean, json_objects, money

DISCOUNTS = np.array([0.1, 0.15, 0.2, 0.25, 0.3, 0.35])
PRICE_STEP_SD = 0.07  # sd of a regular price change, in log price
REGULAR_BOUNDS = (0.85, 1.2)  # regular price stays within these multiples of the list price


@dataclass(frozen=True)
class PricePaths:
    """Per item (rows) and day (columns)."""

    regular: np.ndarray
    discount: np.ndarray  # 0 outside promotions
    price: np.ndarray  # what a customer pays that day

    def ratio(self, base_price: np.ndarray) -> np.ndarray:
        """p_{i,d} / p0_i."""
        return self.price / base_price[:, None]


def shop_round(p: np.ndarray) -> np.ndarray:
    """Round to a shop price ending in .99 (above 10) or .x9 (below)."""
    return np.round(
        np.maximum(np.where(p >= 10, np.round(p) - 0.01, np.round(p, 1) - 0.01), 0.49), 2
    )


def make_prices(cfg: SimConfig, rng: np.random.Generator, cat: Catalogue) -> PricePaths:
    n, days = cat.n, cfg.days
    changes = rng.random((n, days)) < cfg.price_change_rate
    changes[:, 0] = False  # day 0 is at list price
    steps = np.where(changes, rng.normal(0.0, PRICE_STEP_SD, (n, days)), 0.0)
    log_mult = np.clip(np.cumsum(steps, axis=1), *np.log(REGULAR_BOUNDS))
    regular = shop_round(cat.base_price[:, None] * np.exp(log_mult))

    # promotions: a two-state chain per item whose on-share is promo_share
    discount = np.zeros((n, days))
    if cfg.promo_share > 0:
        p_start = cfg.promo_share / (cfg.promo_days * (1.0 - cfg.promo_share))
        remaining = np.zeros(n, dtype=np.int64)
        current = np.zeros(n)
        for d in range(days):  # a loop over days, vectorised over items
            start = (remaining == 0) & (rng.random(n) < p_start)
            k = int(start.sum())
            remaining[start] = 1 + rng.poisson(cfg.promo_days - 1.0, k)
            current[start] = rng.choice(DISCOUNTS, k)
            active = remaining > 0
            discount[active, d] = current[active]
            remaining[active] -= 1
    price = np.round(regular * (1.0 - discount), 2)
    return PricePaths(regular, discount, price)


def prices_frame(paths: PricePaths, cat: Catalogue, cal: Calendar, cfg: SimConfig) -> pd.DataFrame:
    """The canonical ``prices`` table: one row per item and day."""
    n, days = paths.price.shape
    promo = paths.discount.ravel() > 0
    attributes = json_objects(
        {
            "regular_price": (money(paths.regular.ravel()), False),
            "promo": (boolean(promo), False),
        }
    )
    return pd.DataFrame(
        {
            "item_id": np.repeat(cat.ids, days),
            "date": np.tile(cal.dates(np.arange(days)), n),
            "price": paths.price.ravel(),
            "currency": cfg.currency,
            "attributes": attributes,
        }
    )
