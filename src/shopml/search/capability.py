"""The search capability: the catalogue's search engine (BM25F, MiniLM, fusion, re-ranker)."""

from shopml.core.capability import Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="search",
    summary="Product search with spelling correction, hybrid retrieval and a learned re-ranker.",
    models="shopml.search.train:model_classes",
    train="shopml.search.train:train_and_register",
    load="shopml.search.train:load_for_serving",
    bench="shopml.benchmarks.search:run",
    steps=("shopml.pipeline.search",),
    router="shopml.serve.routers.search:router",
    cli="shopml.cli.search",
    page=Page("search", "Search", "search.html", order=30),
    requires=(
        Requirement("items", ("item_id", "title"), min_rows=10, why="a catalogue with titles"),
    ),
    monitors=(
        Monitor("quality", "click-through of served result pages", "ctr@10"),
        Monitor("score_drift", "distribution of the top result's score"),
    ),
)
