"""The ``vision`` capability: product-image classification, visual similarity, auto-tagging."""

from __future__ import annotations

from shopml.core.capability import Capability, Monitor, Page, Requirement

SPEC = Capability(
    name="vision",
    summary=(
        "Product images: a small ResNet (plain torch) or a colour/gradient-histogram LightGBM "
        "floor classifies photos, finds similar-looking items and tags items without a category"
    ),
    models="shopml.vision.models:models",
    train="shopml.vision.train:train",
    load="shopml.vision.train:load",
    bench="shopml.benchmarks.vision:run",
    steps=("shopml.pipeline.vision",),
    router="shopml.serve.routers.vision:router",
    batch="shopml.vision.train:batch",
    cli="shopml.cli.vision",
    page=Page("images", "Images", "vision.html", order=70),
    requires=(
        Requirement(
            "items",
            ("image_path", "category"),
            min_rows=50,
            why="catalogue items with an image and a category to learn classes from",
        ),
    ),
    monitors=(
        Monitor("score_drift", "share of each predicted class and the mean top-class confidence"),
        Monitor("input_drift", "image brightness, size and the share of unreadable images"),
        Monitor("quality", "accuracy against categories merchants confirm or correct", "accuracy"),
    ),
)
