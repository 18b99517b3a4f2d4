"""The recommend capability: personalised lists, similar items and their reasons."""

from shopml.core.capability import AnyOf, Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="recommend",
    summary="Top-k items per customer, similar items and 'because you bought' reasons.",
    models="shopml.recommend.train:model_classes",
    train="shopml.recommend.train:train",
    load="shopml.recommend.train:load_for_serving",
    bench="shopml.benchmarks.recommend:run",
    steps=("shopml.pipeline.recommend",),
    router="shopml.serve.routers.recommend:router",
    batch="shopml.distributed.recommend:batch_job",
    cli="shopml.cli.recommend",
    pages=(
        Page("customer", "Customer", "customer.html", order=10),
        Page("product", "Product", "product.html", order=20),
    ),
    requires=(
        AnyOf(
            (
                Requirement(
                    "events", ("user_id", "item_id"), min_rows=100,
                    why="interactions (views, clicks, carts, purchases) with user and item ids",
                ),
                Requirement(
                    "orders", ("user_id", "item_id"), min_rows=100,
                    why="order lines with user and item ids",
                ),
                Requirement(
                    "events", ("session_id", "item_id"), min_rows=100,
                    why="sessions of item events (anonymous visitors: session-kNN)",
                ),
            )
        ),
    ),
    monitors=(
        Monitor("quality", "share of served lists with an item the customer later chose", "hit@10"),
        Monitor("score_drift", "distribution of the top item's score per request"),
    ),
)
