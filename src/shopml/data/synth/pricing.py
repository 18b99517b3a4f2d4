"""Daily price paths: occasional regular price changes plus promotions, optionally confounded.

By default prices move at random times by random amounts, never in response to demand, so the
elasticities stay identifiable from the simulated sales (a clean experiment). A shop's real
prices are not like that: a merchandiser raises prices into a busy season and cuts them when
trade is slow. ``SimConfig.price_confounding`` > 0 adds that behaviour (see
:func:`demand_index`), so a naive regression of units on price is biased while the true
elasticities (and costs) stay in the truth. :func:`expected_units` is the simulator's demand
curve in closed form, used as the environment of the pricing benchmarks.
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
# the merchandiser's seasonal move is capped at +-25% so that r = p / p0 stays >= 0.41 and the
# funnel's min(1, .) ceilings keep (almost) never binding (see the model in shopml.data.synth)
CONFOUNDED_CAP = 0.25


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
    if cfg.price_confounding > 0:
        # no random draws here: the switch leaves every other draw of the stream unchanged
        z = demand_index(cfg, cat)[cat.category]
        cap = np.log1p(CONFOUNDED_CAP)
        log_mult = log_mult + np.clip(cfg.price_confounding * z, -cap, cap)
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


def demand_index(cfg: SimConfig, cat: Catalogue) -> np.ndarray:
    """The demand a merchandiser anticipates, per category (rows) and day (columns), in logs.

    :math:`z_c(d) = \\log y(d) + \\log g_c(d)` (the yearly traffic factor with its holiday
    peak times the category's own cycle; the weekly rhythm is left out: nobody reprices by
    weekday), centred on its mean over the horizon per category. It is a function of the date
    and the category only, so a model that sees both can adjust for it.
    """
    from shopml.data.synth.calendar import make_calendar

    cal = make_calendar(cfg)
    z = np.log(cal.yearly)[None, :] + np.log(cal.cycle(cat.cat_peak, cat.cat_amplitude))
    return z - z.mean(axis=1, keepdims=True)


def expected_units(
    base_demand: np.ndarray,
    base_price: np.ndarray,
    elasticity: np.ndarray,
    price: np.ndarray,
    season: np.ndarray | float = 1.0,
) -> np.ndarray:
    """Expected units :math:`\\mathrm{base}_i\\, s\\, (p / p^0_i)^{\\epsilon_i}` (broadcasting).

    The simulator's constant-elasticity demand curve (the funnel's ``min`` ceilings aside);
    ``price`` may carry extra trailing axes (a price ladder per item) when the per-item arrays
    are given as columns.
    """
    return base_demand * season * (price / base_price) ** elasticity


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
