"""Naive log-log elasticity: units on price per product, nothing else."""

from __future__ import annotations

import numpy as np
import pandas as pd

from shopml.pricing.base import ElasticityModel
from shopml.pricing.glm import poisson_slopes


class NaiveLogLog(ElasticityModel):
    """:math:`E[y_{it}] = \\exp(a_i + \\epsilon_i \\log p_{it})` per product (Poisson, log link).

    The textbook regression a shop runs first. Anything that moves price and demand together
    (a merchandiser pricing up into the busy season) lands in :math:`\\epsilon_i`: kept as the
    biased baseline the other estimators are measured against.
    """

    def _estimate(
        self, panel: pd.DataFrame, item: np.ndarray, n_items: int
    ) -> tuple[np.ndarray, np.ndarray]:
        x = np.log(panel["price"].to_numpy())
        _, b, se = poisson_slopes(item, x, panel["y"].to_numpy(), n_groups=n_items)
        return b, se
