"""Order quantities per item from a quantile forecast: the policies behind ``shopml replenish``
and ``/v1/replenishment``.

Inventory takes demand through a declared interface only: a quantile forecast frame (the
forecast contract's ``unique_id, ds, point, q...``) or any fitted forecaster with
``predict(h)`` returning one; it never looks inside a model.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, Protocol

import numpy as np
import pandas as pd

from shopml.core.errors import ValidationError
from shopml.inventory.policies import base_stock_levels, critical_ratio, protection_quantiles

__all__ = ["QuantileForecaster", "ReplenishmentPolicy", "as_quantile_frame", "replenishment"]


class QuantileForecaster(Protocol):
    """What inventory needs of a forecaster: quantile forecasts ``h`` periods ahead."""

    def predict(self, h: int) -> pd.DataFrame: ...


def as_quantile_frame(forecast: pd.DataFrame | QuantileForecaster, periods: int) -> pd.DataFrame:
    """A quantile forecast frame covering ``periods`` periods, from a frame or a forecaster."""
    if isinstance(forecast, pd.DataFrame):
        return forecast
    if hasattr(forecast, "predict"):
        return forecast.predict(periods)
    raise ValidationError(
        f"forecast must be a quantile forecast frame or a fitted forecaster, got {type(forecast).__name__}"
    )


@dataclass(frozen=True)
class ReplenishmentPolicy:
    """A periodic-review policy: ``base_stock`` (order up to ``S`` every review) or ``sS`` (order
    up to ``S = s + EOQ`` only when the position falls to the reorder point ``s``)."""

    policy: Literal["base_stock", "sS"] = "base_stock"
    lead_time: int = 1
    target: float = 0.95
    service: Literal["fill_rate", "cycle"] = "fill_rate"
    holding: float = 1.0
    shortage: float = 19.0
    order_cost: float = 0.0

    def __post_init__(self) -> None:
        if self.policy not in ("base_stock", "sS"):
            raise ValidationError(f"policy must be 'base_stock' or 'sS', got {self.policy!r}")
        if self.lead_time < 0:
            raise ValidationError(f"lead_time must be >= 0, got {self.lead_time}")
        if not 0 < self.target < 1:
            raise ValidationError(f"target must lie in (0, 1), got {self.target}")
        critical_ratio(self.holding, self.shortage)  # validates the costs
        if self.order_cost < 0:
            raise ValidationError(f"order_cost must be >= 0, got {self.order_cost}")

    def levels(self, forecast: pd.DataFrame | QuantileForecaster) -> pd.DataFrame:
        """``unique_id, reorder_point, order_up_to, protection_point`` per item."""
        fc = as_quantile_frame(forecast, self.lead_time + 1)
        lv = base_stock_levels(fc, self.lead_time, self.target, self.service)
        s = lv["level"].to_numpy(float)
        if self.policy == "sS":
            per, _ = protection_quantiles(fc, 1)
            d = per.set_index("unique_id")["point"].reindex(lv["unique_id"]).to_numpy(float)
            eoq = np.sqrt(2 * self.order_cost * np.clip(d, 0, None) / self.holding)
            return pd.DataFrame(
                {
                    "unique_id": lv["unique_id"],
                    "reorder_point": s,
                    "order_up_to": s + eoq,
                    "protection_point": lv["protection_point"],
                }
            )
        return pd.DataFrame(
            {
                "unique_id": lv["unique_id"],
                "reorder_point": s,
                "order_up_to": s,
                "protection_point": lv["protection_point"],
            }
        )

    def describe(self) -> dict[str, Any]:
        return dict(self.__dict__)


def replenishment(
    forecast: pd.DataFrame | QuantileForecaster,
    policy: ReplenishmentPolicy | None = None,
    on_hand: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """What to order now per item: ``unique_id, on_hand, reorder_point, order_up_to,
    order_qty`` (``on_hand``: ``unique_id, on_hand`` incl. stock on order; items missing from it
    count as zero)."""
    policy = policy or ReplenishmentPolicy()
    lv = policy.levels(forecast)
    stock = np.zeros(len(lv))
    if on_hand is not None:
        if not {"unique_id", "on_hand"} <= set(on_hand.columns):
            raise ValidationError(
                f"on_hand needs columns unique_id, on_hand; it has {list(on_hand.columns)}"
            )
        stock = (
            on_hand.set_index(on_hand["unique_id"].astype(str))["on_hand"]
            .reindex(lv["unique_id"].astype(str))
            .fillna(0)
            .to_numpy(float)
        )
    order = np.where(
        stock <= lv["reorder_point"].to_numpy(),
        np.clip(lv["order_up_to"].to_numpy() - stock, 0, None),
        0.0,
    )
    out = lv.assign(on_hand=stock, order_qty=np.round(order, 3))
    return out[
        ["unique_id", "on_hand", "reorder_point", "order_up_to", "order_qty", "protection_point"]
    ]
