"""The pricing capability: elasticities with intervals, optimised prices, dynamic pricing."""

from shopml.core.capability import AnyOf, Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="pricing",
    summary="Price elasticities (naive, with controls, double machine learning) with intervals, "
    "profit-maximising prices over ladders (MILP, HiGHS) and Thompson-sampling dynamic pricing.",
    models="shopml.pricing:MODELS",
    train="shopml.pricing.train:train",
    load="shopml.pricing.train:load",
    bench="shopml.benchmarks.pricing:run",
    steps=("shopml.pipeline.pricing",),
    router="shopml.serve.routers.pricing:router",
    cli="shopml.cli.pricing",
    page=Page("pricing", "Pricing", "pricing.html", order=70),
    requires=(
        AnyOf(
            (
                Requirement(
                    "orders",
                    ("item_id", "ts", "quantity", "unit_price"),
                    min_rows=200,
                    min_days=8 * 7,
                    where="status <> 'cancelled'",
                    why="order lines with quantity and unit price over at least 8 weeks "
                    "(prices must have moved for an elasticity to be learned; a prices table, "
                    "where the shop has one, adds the periods without sales)",
                ),
                Requirement(
                    "sales",
                    ("item_id", "date", "quantity", "revenue"),
                    min_rows=50,
                    min_days=8 * 7,
                    time_column="date",
                    why="units and revenue per item and period over at least 8 weeks",
                ),
            )
        ),
    ),
    monitors=(
        Monitor(
            "quality",
            "realised units against the expected units at the recommended prices (WAPE)",
            "wape",
        ),
        Monitor("cost", "realised profit at the recommended prices against the current prices"),
        Monitor("input_drift", "prices and units per item against the training history"),
    ),
)
