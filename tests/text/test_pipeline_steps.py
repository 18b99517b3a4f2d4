"""The ``sentiment`` and ``support`` pipeline steps on a tiny workspace (TF-IDF only)."""

import pandas as pd
from rich.console import Console
from rich.progress import Progress

from shopml.data.workspace import Workspace
from shopml.pipeline.config import EvaluateConfig
from shopml.pipeline.steps import StepContext, registered_steps
from shopml.registry import Registry

from .conftest import corpus


def test_steps_fit_score_and_register(tmp_path):
    import shopml.pipeline.support  # noqa: F401  (registers the steps)
    import shopml.pipeline.text  # noqa: F401

    texts, stars, _ = corpus(200, seed=4)
    path = tmp_path / "ws.duckdb"
    with Workspace(path) as ws:
        ws.append(
            "reviews",
            pd.DataFrame(
                {
                    "review_id": [f"r{i}" for i in range(200)],
                    "item_id": [f"i{i % 10}" for i in range(200)],
                    "rating": stars.astype(float),
                    "text": texts,
                }
            ),
        )
        ws.append(
            "support_messages",
            pd.DataFrame(
                {
                    "message_id": [f"m{i}" for i in range(120)],
                    "text": ["where is my order", "cancel my order please", "I want a refund"] * 40,
                    "intent": ["track_order", "cancel_order", "get_refund"] * 40,
                }
            ),
        )
    steps = registered_steps()
    with Workspace(path, read_only=True) as ws:
        ctx = StepContext(
            ws,
            path,
            Registry(tmp_path / "reg"),
            EvaluateConfig(),
            "best",
            "test",
            Progress(disable=True),
            Console(quiet=True),
            {},
        )
        res = steps["sentiment"].run(ctx, steps["sentiment"].config(models=["tfidf"]))
        assert res.best().model == "tfidf"
        assert res.best().metrics["stars_mae"] < res.leaderboard[0].metrics["stars_mae"]
        assert res.registered and res.registered[0]["capability"] == "text"
        res = steps["support"].run(ctx, steps["support"].config(models=["tfidf"]))
        assert res.best().metrics["accuracy"] == 1.0
        assert res.registered[0]["capability"] == "support"
