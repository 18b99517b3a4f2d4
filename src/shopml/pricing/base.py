"""The elasticity contract every pricing demand model follows.

An :class:`ElasticityModel` learns from a demand panel (see :mod:`shopml.pricing.data`) the
own-price elasticity of each product, :math:`\\partial \\log E[y] / \\partial \\log p`, with a
standard error, and the demand level it sells at today; :meth:`ElasticityModel.predict_units`
then gives the constant-elasticity demand curve the optimiser prices against:

.. math:: E[y_i(p)] = \\bar y_i\\, (p / \\bar p_i)^{\\hat\\epsilon_i}

(:math:`\\bar p_i` today's price, the last period's; :math:`\\bar y_i` the units per period over
the last ``recent_periods`` periods, moved along the fitted curve from their mean price to
today's). ``pooling`` says how products share strength: ``"item"``
(each its own estimate), ``"category"`` (one precision-weighted estimate per category) or
``"partial"`` (empirical-Bayes shrinkage of each product towards its category's mean by its
own precision: a product whose price hardly moved borrows almost all of its category's
estimate; one with a rich price history keeps its own).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import numpy as np
import pandas as pd
from scipy import stats

from shopml.core.errors import ValidationError
from shopml.core.estimator import Estimator
from shopml.pricing.data import infer_freq, validate_panel
from shopml.pricing.pooling import pool

POOLINGS = ("item", "category", "partial")
RECENT = {"D": 28, "W": 8, "M": 3}


class ElasticityModel(Estimator):
    """Base of every elasticity estimator: validates, pools, reports, predicts demand."""

    capability: ClassVar[str] = "pricing"

    def __init__(
        self, pooling: str = "partial", level: float = 95.0, recent_periods: int | None = None
    ) -> None:
        self.pooling = pooling
        self.level = level
        self.recent_periods = recent_periods

    # ----------------------------------------------------------------- public verbs
    def fit(self, panel: pd.DataFrame) -> ElasticityModel:
        """Estimate every product's elasticity from ``panel`` (``unique_id, ds, y, price``...)."""
        self._check_params()
        panel = validate_panel(panel)
        self.freq_ = infer_freq(panel["ds"])
        items, inverse = np.unique(panel["unique_id"].to_numpy(), return_inverse=True)
        category = panel.groupby("unique_id", sort=True)["category"].first().to_numpy()
        raw, raw_se = self._estimate(panel, inverse, items.size)
        est, se = pool(raw, raw_se, category, self.pooling)
        z = stats.norm.ppf(0.5 + self.level / 200.0)
        g = panel.groupby("unique_id", sort=True)
        recent = self.recent_periods or RECENT[self.freq_]
        last = panel.groupby("unique_id", sort=True).tail(recent).groupby("unique_id", sort=True)
        self.item_ids_ = items.astype(str)
        self.category_ = category.astype(str)
        self.raw_elasticity_, self.raw_se_ = raw, raw_se
        self.elasticity_, self.se_ = est, se
        self.lower_, self.upper_ = est - z * se, est + z * se
        self.n_obs_ = g.size().to_numpy().astype(np.int64)
        self.units_ = g["y"].sum().to_numpy()
        self.log_price_sd_ = g["price"].agg(lambda p: np.log(p).std(ddof=0)).to_numpy()
        # today's price is the last period's; the demand level is the recent mean, moved along
        # the fitted curve from the recent (geometric) mean price to today's
        now = g["price"].last().to_numpy()
        recent_price = np.exp(last["price"].agg(lambda p: np.log(p).mean()).to_numpy())
        self.ref_price_ = now
        self.base_units_ = last["y"].mean().to_numpy() * (now / recent_price) ** est
        cost = g["cost"].last().to_numpy(dtype=float) if "cost" in panel else np.full(items.size, np.nan)
        self.cost_ = cost
        self.fitted_ = True
        return self

    def elasticities(self) -> pd.DataFrame:
        """One row per product: the estimate, its standard error and interval, and the data."""
        self._check_fitted()
        return pd.DataFrame(
            {
                "unique_id": self.item_ids_,
                "category": self.category_,
                "elasticity": self.elasticity_,
                "se": self.se_,
                "lower": self.lower_,
                "upper": self.upper_,
                "raw_elasticity": self.raw_elasticity_,
                "raw_se": self.raw_se_,
                "n_obs": self.n_obs_,
                "units": self.units_,
                "log_price_sd": self.log_price_sd_,
                "base_units": self.base_units_,
                "ref_price": self.ref_price_,
                "cost": self.cost_,
            }
        )

    def predict_units(self, unique_id: Any, price: Any) -> np.ndarray:
        """Expected units per period of each product at each price (``price`` may be
        ``(n,)`` or ``(n, k)``: a ladder per product)."""
        self._check_fitted()
        ids = np.asarray(unique_id).astype(str).ravel()
        p = np.asarray(price, dtype=float)
        if p.shape[0] != ids.size:
            raise ValidationError(f"price: {p.shape[0]} rows for {ids.size} unique_id values")
        if not np.all(np.isfinite(p)) or np.any(p <= 0):
            raise ValidationError("price: expected positive finite prices")
        idx = self._index(ids)
        shape = (-1,) + (1,) * (p.ndim - 1)
        base = self.base_units_[idx].reshape(shape)
        ref = self.ref_price_[idx].reshape(shape)
        eps = self.elasticity_[idx].reshape(shape)
        return base * (p / ref) ** eps

    # ----------------------------------------------------------------- contract test
    @classmethod
    def _contract_example(cls) -> tuple[ElasticityModel, dict, dict]:
        """A fitted model on a small panel with known elasticities, good inputs (known products
        and prices) and bad ones (an unknown product), for the generic contract test."""
        rng = np.random.default_rng(0)
        n_items, days = 4, 120
        base = np.repeat([5.0, 8.0, 12.0, 20.0], days)
        eps = np.repeat([-1.0, -1.5, -2.0, -0.8], days)
        price = base * np.exp(rng.normal(0.0, 0.15, n_items * days))
        panel = pd.DataFrame(
            {
                "unique_id": np.repeat([f"p{i}" for i in range(n_items)], days),
                "ds": np.tile(pd.date_range("2024-01-01", periods=days, freq="D"), n_items),
                "y": rng.poisson(20.0 * (price / base) ** eps),
                "price": price,
                "category": np.repeat(["a", "a", "b", "b"], days),
            }
        )
        good = {"unique_id": ["p0", "p2"], "price": [5.0, 11.0]}
        return cls().fit(panel), good, {"unique_id": ["p0", "nope"], "price": [5.0, 1.0]}

    def _contract_outputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        return {
            "units": self.predict_units(inputs["unique_id"], inputs["price"]),
            "elasticity": self.elasticities()["elasticity"].to_numpy(),
        }

    # ----------------------------------------------------------------- helpers
    def _index(self, ids: np.ndarray) -> np.ndarray:
        order = np.argsort(self.item_ids_)
        pos = np.searchsorted(self.item_ids_[order], ids)
        pos = np.clip(pos, 0, ids.size and self.item_ids_.size - 1)
        found = self.item_ids_[order][pos] == ids
        if not found.all():
            bad = ids[~found][:5].tolist()
            raise ValidationError(f"unique_id: unknown product(s) {bad} (not in the training panel)")
        return order[pos]

    def _check_params(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValidationError(f"pooling={self.pooling!r}: expected one of {POOLINGS}")
        if not 0 < float(self.level) < 100:
            raise ValidationError(f"level={self.level!r}: expected a percentage in (0, 100)")
        if self.recent_periods is not None and int(self.recent_periods) < 1:
            raise ValidationError(f"recent_periods={self.recent_periods!r}: expected >= 1")

    @abstractmethod
    def _estimate(
        self, panel: pd.DataFrame, item: np.ndarray, n_items: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """Raw per-product elasticities and standard errors (``inf`` where not identified)."""

    _ARRAYS = (
        "item_ids_", "category_", "raw_elasticity_", "raw_se_", "elasticity_", "se_", "lower_",
        "upper_", "n_obs_", "units_", "log_price_sd_", "base_units_", "ref_price_", "cost_",
    )  # fmt: skip

    def _get_state(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(getattr(self, k)) for k in self._ARRAYS}

    def _meta(self) -> dict[str, Any]:
        return {"freq": self.freq_}

    def _set_state(self, arrays: dict[str, np.ndarray], meta: dict[str, Any]) -> None:
        for k in self._ARRAYS:
            setattr(self, k, arrays[k])
        self.freq_ = meta["freq"]
