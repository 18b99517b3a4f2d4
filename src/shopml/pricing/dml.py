"""Double machine learning elasticity: cross-fitted residual-on-residual with LightGBM nuisances.

Demand is modelled as :math:`E[y_{it} \\mid p, X] = \\exp(\\epsilon_i \\log p_{it} + g(X_{it}))`
with :math:`X` everything observed that may drive both price and demand (calendar, category,
promotions, the product's level, exogenous columns). Following Chernozhukov et al. (2018), each
nuisance is learned by LightGBM on the other folds (cross-fitting, so no row is predicted by a
model that saw it):

1. the price nuisance :math:`m(X) = E[\\log p \\mid X]`, giving the price residual
   :math:`v = \\log p - \\hat m(X)`: the part of the price that the confounders do not explain;
2. the demand nuisance :math:`h(X) = \\log E[y \\mid X]` (Poisson objective);
3. per product, a Poisson regression of :math:`y` on :math:`v` with offset :math:`\\hat h(X)`
   (and an intercept, which absorbs :math:`\\log E[e^{\\epsilon v} \\mid X]`).

Because :math:`v` is orthogonal to :math:`X`, errors in :math:`\\hat h` only move the intercept
to first order; the slope is the elasticity, with a sandwich standard error.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.pricing.base import ElasticityModel
from shopml.pricing.data import calendar_features
from shopml.pricing.glm import poisson_slopes


class DMLElasticity(ElasticityModel):
    """Cross-fitted partialling-out elasticity (see the module docstring).

    ``adjust_promo``: by default a promotion is a price change like any other (its discount is
    treatment, not confounding), so the promotion flag is not among the confounders and the
    discounts help identify the elasticity. Set it where promotions come with advertising or
    display that moves demand by themselves; the price variation left is then only what the
    flag does not explain.
    """

    def __init__(
        self,
        pooling: str = "partial",
        level: float = 95.0,
        recent_periods: int | None = None,
        n_folds: int = 5,
        n_estimators: int = 300,
        learning_rate: float = 0.05,
        num_leaves: int = 7,
        min_child_samples: int | None = None,
        n_jobs: int = 1,
        seed: int = 0,
        adjust_promo: bool = False,
    ) -> None:
        super().__init__(pooling=pooling, level=level, recent_periods=recent_periods)
        self.n_folds = n_folds
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.min_child_samples = min_child_samples
        self.n_jobs = n_jobs
        self.seed = seed
        self.adjust_promo = adjust_promo

    def _estimate(
        self, panel: pd.DataFrame, item: np.ndarray, n_items: int
    ) -> tuple[np.ndarray, np.ndarray]:
        import lightgbm as lgb

        if int(self.n_folds) < 2:
            raise ValidationError(f"n_folds={self.n_folds!r}: cross-fitting needs at least 2")
        X = nuisance_features(panel, self.freq_, bool(self.adjust_promo))
        logp = np.log(panel["price"].to_numpy())
        y = panel["y"].to_numpy()
        # product levels enter as offsets so the trees learn the shared shape, not the levels
        p_level = (np.bincount(item, weights=logp, minlength=n_items)
                   / np.maximum(np.bincount(item, minlength=n_items), 1))[item]
        y_level = np.log(np.maximum(
            np.bincount(item, weights=y, minlength=n_items), 0.5
        ) / np.maximum(np.bincount(item, minlength=n_items), 1))[item]
        rng = np.random.default_rng(self.seed)
        fold = rng.integers(0, int(self.n_folds), y.size)
        m_hat = np.empty_like(logp)
        h_hat = np.empty_like(logp)
        common = dict(
            n_estimators=int(self.n_estimators),
            learning_rate=float(self.learning_rate),
            num_leaves=int(self.num_leaves),
            # smooth nuisances: a leaf holds at least 2% of the rows by default, so the trees
            # learn the calendar's shape rather than each product's own price path (a noisy
            # price nuisance is an error in the regressor: it biases the slope towards zero)
            min_child_samples=int(self.min_child_samples or max(20, y.size // 50)),
            subsample=0.8,
            subsample_freq=1,
            colsample_bytree=0.9,
            n_jobs=int(self.n_jobs),
            random_state=int(self.seed),
            verbose=-1,
        )
        for k in range(int(self.n_folds)):
            tr, te = fold != k, fold == k
            if not te.any() or not tr.any():
                continue
            price_model = lgb.LGBMRegressor(**common)
            price_model.fit(X[tr], logp[tr] - p_level[tr], categorical_feature=[0])
            m_hat[te] = p_level[te] + price_model.predict(X[te])
            demand_model = lgb.LGBMRegressor(objective="poisson", **common)
            demand_model.fit(X[tr], y[tr], init_score=y_level[tr], categorical_feature=[0])
            h_hat[te] = y_level[te] + demand_model.predict(X[te], raw_score=True)
        v = logp - m_hat
        _, b, se = poisson_slopes(item, v, y, offset=h_hat, n_groups=n_items)
        self.price_residual_sd_ = float(np.std(v))
        return b, se


def nuisance_features(panel: pd.DataFrame, freq: str, adjust_promo: bool) -> np.ndarray:
    """Category code (categorical), calendar, exogenous columns, and the promotion flag when
    it is to be adjusted for."""
    cat = pd.Categorical(panel["category"]).codes.astype(float)
    cal = calendar_features(panel["ds"], freq)
    cols = [cat[:, None], cal.to_numpy(dtype=float)]
    if adjust_promo and "promo" in panel.columns:
        cols.append(panel[["promo"]].to_numpy(dtype=float))
    extra = [
        c for c in panel.columns
        if c not in ("unique_id", "ds", "y", "price", "category", "promo", "cost")
        and pd.api.types.is_numeric_dtype(panel[c])
    ]
    if extra:
        cols.append(panel[extra].to_numpy(dtype=float))
    return np.hstack(cols)
