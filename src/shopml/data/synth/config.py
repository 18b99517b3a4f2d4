"""The simulator's knobs: one frozen dataclass, validated before any work is done."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import numpy as np

from shopml.core.errors import ValidationError


@dataclass(frozen=True)
class SimConfig:
    """Parameters of a simulated shop (see :mod:`shopml.data.synth` for the model they drive).

    The defaults give a mid-sized shop; ``n_users=100_000`` with the default rates yields
    about one million events over 180 days.
    """

    n_users: int = 10_000
    n_items: int = 1_000
    n_categories: int = 12
    days: int = 180
    start: str = "2024-01-01"
    seed: int = 0
    currency: str = "EUR"
    n_factors: int = 8
    # traffic
    session_rate: float = 0.016  # mean sessions per user per day before seasonality
    activity_shape: float = 0.6  # gamma shape of user activity: small = a few heavy users
    new_user_share: float = 0.3  # users who sign up during the horizon
    mean_views: float = 3.5  # item views per session
    search_share: float = 0.3  # sessions that start with a search
    # funnel ceilings (see the module docstring for the full probabilities)
    view_to_cart: float = 0.25
    cart_to_purchase: float = 0.35
    # seasonality
    weekly: tuple[float, ...] = (0.97, 0.93, 0.94, 0.97, 1.01, 1.07, 1.11)  # Monday .. Sunday
    yearly_amplitude: float = 0.15
    holiday_boost: float = 0.4
    # prices
    promo_share: float = 0.1  # share of item-days on promotion
    promo_days: float = 7.0  # mean promotion length
    price_change_rate: float = 1 / 45  # regular price changes per item and day
    # how strongly regular prices follow anticipated demand (log price per log demand index);
    # 0 = prices independent of demand (the default, a clean experiment)
    price_confounding: float = 0.0
    # orders after the fact
    cancel_rate: float = 0.02
    review_rate: float = 0.15
    support_rate: float = 0.04
    # fraud
    fraud_rate: float = 0.02  # share of orders placed by fraudsters
    fraud_ring_size: float = 6.0  # mean orders per fraud ring
    # logged impressions (a recommendation slate at the start of some sessions)
    impression_share: float = 0.3
    n_candidates: int = 10
    slate_size: int = 4
    epsilon: float = 0.1
    temperature: float = 1.0
    examination_decay: float = 0.7  # examination probability at rank k: k ** -decay

    def validate(self) -> SimConfig:
        """Raise :class:`ValidationError` naming the first bad parameter; return self."""
        from shopml.data.synth.words import CATEGORIES

        def bad(name: str, expected: str) -> ValidationError:
            return ValidationError(f"SimConfig.{name}={getattr(self, name)!r}: expected {expected}")

        for name in (
            "n_users",
            "n_items",
            "n_categories",
            "days",
            "n_factors",
            "n_candidates",
            "slate_size",
        ):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int | np.integer) or v < 1:
                raise bad(name, "a positive integer")
        if self.n_categories > len(CATEGORIES):
            raise bad("n_categories", f"at most {len(CATEGORIES)} (the category templates)")
        if self.n_items < self.n_categories:
            raise bad("n_items", f"at least n_categories={self.n_categories}")
        if self.slate_size > self.n_candidates:
            raise bad("slate_size", f"at most n_candidates={self.n_candidates}")
        for name in (
            "session_rate",
            "activity_shape",
            "temperature",
            "promo_days",
            "fraud_ring_size",
        ):
            if not getattr(self, name) > 0:
                raise bad(name, "a positive number")
        if not self.mean_views >= 1:
            raise bad("mean_views", "at least 1")
        for name in (
            "yearly_amplitude",
            "holiday_boost",
            "price_change_rate",
            "examination_decay",
            "price_confounding",
        ):
            if not getattr(self, name) >= 0:
                raise bad(name, "a non-negative number")
        if self.yearly_amplitude >= 1:
            raise bad("yearly_amplitude", "below 1 (traffic must stay positive)")
        for name in (
            "new_user_share",
            "search_share",
            "view_to_cart",
            "cart_to_purchase",
            "cancel_rate",
            "review_rate",
            "support_rate",
            "impression_share",
        ):
            if not 0 <= getattr(self, name) <= 1:
                raise bad(name, "a probability in [0, 1]")
        if not 0 < self.epsilon <= 1:
            # without exploration some actions get no probability: no off-policy estimate can use them
            raise bad("epsilon", "a probability in (0, 1]")
        for name in ("promo_share", "fraud_rate"):
            if not 0 <= getattr(self, name) < 1:
                raise bad(name, "a share in [0, 1)")
        if len(self.weekly) != 7 or not all(w > 0 for w in self.weekly):
            raise bad("weekly", "7 positive multipliers, Monday to Sunday")
        try:
            np.datetime64(self.start, "D")
        except ValueError:
            raise bad("start", "an ISO date such as '2024-01-01'") from None
        if not (isinstance(self.currency, str) and len(self.currency) == 3):
            raise bad("currency", "a 3-letter ISO code")
        return self

    def as_dict(self) -> dict:
        """Plain JSON-ready dict of the parameters."""
        d = asdict(self)
        d["weekly"] = list(self.weekly)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> SimConfig:
        """Inverse of :meth:`as_dict`; unknown keys are an error."""
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValidationError(f"SimConfig has no parameter(s) {sorted(unknown)}")
        d = dict(d)
        if "weekly" in d:
            d["weekly"] = tuple(d["weekly"])
        return cls(**d)
