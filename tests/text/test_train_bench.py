import numpy as np
import pandas as pd

from shopml.data.workspace import Workspace
from shopml.registry import Registry

from .conftest import corpus


def _shop(path):
    texts, stars, _ = corpus(200, seed=2)
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
    return texts, stars


def test_train_load_batch_and_router(tmp_path):
    from shopml.serve.routers.text import sentiment_rows
    from shopml.text.train import batch, load, train

    ws = tmp_path / "shop.duckdb"
    _shop(ws)
    mv = train(ws, tmp_path / "reg", "tfidf", params={"C": 4.0, "class_weight": None})
    assert mv.metrics["validation_stars_mae"] < 1.0
    assert mv.config["target"] == "classes"
    model = load(mv)
    rows = sentiment_rows(
        model, ["the battery is great and excellent", "the screen is awful and useless"]
    )
    assert [r["polarity"] for r in rows] == ["positive", "negative"]
    assert rows[0]["stars"] > rows[1]["stars"]
    out = batch(Registry(tmp_path / "reg"), ws, tmp_path / "scores.parquet")
    df = pd.read_parquet(out)
    assert len(df) == 200
    assert {"review_id", "item_id", "polarity", "score", "stars", "anger_flag"} <= set(df.columns)
    assert df["model"].iloc[0].startswith("text/sentiment/v")


def test_bench_on_files_with_and_without_test(tmp_path):
    from shopml.benchmarks.text import run

    texts, stars, labels = corpus(300, seed=3)
    train_f, test_f = tmp_path / "train.csv", tmp_path / "test.csv"
    frame = pd.DataFrame({"body": texts, "stars": stars, "label": labels})
    frame.iloc[:220].to_csv(train_f, index=False)
    frame.iloc[220:].to_csv(test_f, index=False)
    res = run(data=train_f, test=test_f, text_col="body", rating_col="stars", models=["tfidf"])
    by = {r.model: r for r in res.rows}
    assert by["tfidf"].metrics["stars_mae"] < by["majority (baseline)"].metrics["stars_mae"]
    assert "f1_per_star" in by["tfidf"].extra
    assert res.protocol.startswith("train file -> test file")
    res = run(
        data=train_f, text_col="body", label_col="label", models=["tfidf"], out=tmp_path / "r.json"
    )
    assert {r.model for r in res.rows} == {"majority (baseline)", "tfidf"}
    assert res.rows[1].metrics["accuracy"] > 0.8
    assert (tmp_path / "r.md").exists()
    assert np.isfinite(res.rows[1].metrics["macro_f1"])
