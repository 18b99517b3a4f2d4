"""The forecast capability: units per item and period, with quantiles and intervals."""

from shopml.core.capability import AnyOf, Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="forecast",
    summary="Demand per item and period: statsforecast baselines, global LightGBM and DeepAR, "
    "quantiles and intervals, bottom-up hierarchy.",
    models="shopml.forecast.train:models",
    train="shopml.forecast.train:train",
    load="shopml.forecast.train:load",
    bench="shopml.benchmarks.forecast:run",
    steps=("shopml.pipeline.forecast",),
    router="shopml.serve.routers.forecast:router",
    cli="shopml.cli.forecast",
    page=Page("forecast", "Forecast", "forecast.html", order=60),
    requires=(
        AnyOf(
            (
                Requirement(
                    "orders",
                    ("item_id", "ts"),
                    min_rows=100,
                    min_days=12 * 7,
                    where="status = 'completed'",
                    why="completed order lines with item and time over at least 12 weeks "
                    "(8 to learn from, 4 to check the forecast)",
                ),
                Requirement(
                    "sales",
                    ("item_id", "date", "quantity"),
                    min_rows=50,
                    min_days=12 * 7,
                    time_column="date",
                    why="units per item and period over at least 12 weeks",
                ),
            )
        ),
    ),
    monitors=(
        Monitor(
            "quality", "WAPE of the served forecasts as the periods' actual units arrive", "wape"
        ),
        Monitor("quality", "share of actual units inside the served 80% intervals", "coverage@80"),
        Monitor("input_drift", "units per item and period against the training history"),
    ),
    extra="forecast",
)
