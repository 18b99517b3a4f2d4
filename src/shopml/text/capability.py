"""The ``text`` capability: review sentiment, aspects, frustration flags, shared embeddings."""

from __future__ import annotations

from shopml.core.capability import AnyOf, Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="text",
    summary=(
        "Review sentiment (polarity, stars, a score), what customers praise and complain about "
        "per product, frustration flags; the one MiniLM embedding service search and support use"
    ),
    models="shopml.text.models:models",
    train="shopml.text.train:train",
    load="shopml.text.train:load",
    bench="shopml.benchmarks.text:run",
    steps=("shopml.pipeline.text",),
    router="shopml.serve.routers.text:router",
    batch="shopml.text.train:batch",
    cli="shopml.cli.text",
    page=Page("reviews", "Reviews", "reviews.html", order=60),
    requires=(
        AnyOf(
            (
                Requirement(
                    "reviews",
                    ("text", "rating"),
                    min_rows=50,
                    why="reviews with text and a star rating to learn sentiment from",
                ),
                Requirement(
                    "reviews",
                    ("text", "sentiment"),
                    min_rows=50,
                    why="reviews with text and a sentiment score to learn from",
                ),
            )
        ),
    ),
    monitors=(
        Monitor("score_drift", "share of negative reviews and the mean sentiment score per day"),
        Monitor("input_drift", "review length and the share of words unseen in training"),
        Monitor("quality", "stars MAE as new reviews arrive with their ratings", "stars_mae"),
    ),
    extra="nlp",
)
