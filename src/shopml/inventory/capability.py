"""The inventory capability: how much to order, from forecast quantiles."""

from shopml.core.capability import AnyOf, Capability, Monitor, Requirement

SPEC = Capability(
    name="inventory",
    summary="Replenishment: newsvendor, base-stock and (s, S) policies driven by forecast "
    "quantiles, replayed over held-out demand (fill rate, stock on hand, cost).",
    models="shopml.inventory.capability:policies",
    bench="shopml.benchmarks.inventory:run",
    steps=("shopml.pipeline.inventory",),
    router="shopml.serve.routers.forecast:replenishment_router",
    cli="shopml.cli.forecast",
    requires=(
        AnyOf(
            (
                Requirement(
                    "orders",
                    ("item_id", "ts"),
                    min_rows=100,
                    min_days=16 * 7,
                    where="status = 'completed'",
                    why="completed order lines over at least 16 weeks (to forecast and to replay)",
                ),
                Requirement(
                    "sales",
                    ("item_id", "date", "quantity"),
                    min_rows=50,
                    min_days=16 * 7,
                    time_column="date",
                    why="units per item and period over at least 16 weeks",
                ),
            )
        ),
    ),
    monitors=(
        Monitor(
            "cost",
            "holding + lost-sales cost of the served orders against the rule of thumb",
            "total_cost",
        ),
        Monitor("quality", "realised fill rate against the target", "fill_rate"),
    ),
)


def policies() -> dict[str, type]:
    """Policy name -> class (inventory has policies, not fitted models; forecasts come from
    the forecast capability)."""
    from shopml.inventory.replenish import ReplenishmentPolicy

    return {"base_stock": ReplenishmentPolicy, "sS": ReplenishmentPolicy}
