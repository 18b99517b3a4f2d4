"""From a fitted elasticity model to a price per product: the ladder, the demand, the program."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.pricing.base import ElasticityModel
from shopml.pricing.interfaces import DemandForecaster, baseline_from_forecast
from shopml.pricing.optimise import PriceLadder, optimise_prices


def price_plan(
    model: ElasticityModel,
    ladder: PriceLadder | None = None,
    horizon: int = 1,
    min_margin: float | None = 0.0,
    max_change: float | None = 0.15,
    capacity: Mapping[str, float] | None = None,
    category_budget: Mapping[str, float] | None = None,
    cost: Mapping[str, float] | None = None,
    forecaster: DemandForecaster | None = None,
) -> pd.DataFrame:
    """Recommended price per product over ``horizon`` periods of the model's frequency.

    Demand at each ladder price is the model's curve (``predict_units``) times ``horizon``;
    with a ``forecaster`` (anything with ``forecast(h)`` returning ``unique_id, ds`` and a
    point column, see :mod:`shopml.pricing.interfaces`) the baseline units over the horizon come
    from its forecast at today's price instead of recent sales. ``capacity`` is the stock per
    product, ``cost`` overrides the unit costs the model saw (``items.attributes.cost``).
    """
    model._check_fitted()
    if int(horizon) < 1:
        raise ValidationError(f"horizon={horizon!r}: expected a positive number of periods")
    ladder = ladder or PriceLadder()
    e = model.elasticities()
    ids = e["unique_id"].to_numpy()
    current = e["ref_price"].to_numpy(dtype=float)
    ok = np.isfinite(current) & (current > 0)
    e, ids, current = e[ok].reset_index(drop=True), ids[ok], current[ok]
    P = ladder.prices(current)
    Q = model.predict_units(ids, P) * int(horizon)
    if forecaster is not None:
        base = baseline_from_forecast(forecaster, int(horizon))
        scale = pd.Series(ids).map(base).to_numpy(dtype=float)
        at_now = model.predict_units(ids, current) * int(horizon)
        factor = np.where(np.isfinite(scale) & (at_now > 0), scale / np.maximum(at_now, 1e-12), 1)
        Q = Q * factor[:, None]
    unit_cost = e["cost"].to_numpy(dtype=float)
    if cost is not None:
        unit_cost = np.where(pd.Series(ids).map(cost).notna(), pd.Series(ids).map(cost), unit_cost)
    stock = None
    if capacity is not None:
        stock = pd.Series(ids).map(capacity).to_numpy(dtype=float)
    res = optimise_prices(
        current, P, Q, cost=unit_cost.astype(float), capacity=stock, min_margin=min_margin,
        max_change=max_change, category=e["category"].to_numpy(),
        category_budget=dict(category_budget) if category_budget else None,
    )
    res.insert(0, "unique_id", ids)
    res.insert(1, "category", e["category"].to_numpy())
    for col in ("elasticity", "lower", "upper"):
        res[col] = e[col].to_numpy()
    res["unit_cost"] = unit_cost
    return res
