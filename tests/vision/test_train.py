"""Train/register/load, the batch job with auto-tagging, the HTTP routes and the bench suite."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from shopml.core.errors import ValidationError
from shopml.registry import Registry
from shopml.vision.train import batch, classify_paths, load, train

FLOOR = {"image_size": 16, "n_estimators": 10, "num_leaves": 4, "min_child_samples": 2, "cells": 2}
TINY_CNN = {"image_size": 16, "widths": "4/8", "blocks": [1, 1], "epochs": 2, "batch_size": 8}


def test_train_from_a_folder_and_serve_similar(image_dir, tmp_path):
    mv = train(None, tmp_path / "reg", "histogram-gbm", data=image_dir / "train", params=FLOOR)
    assert mv.metrics["skipped"] == 2 and mv.metrics["images"] == 32
    assert mv.metrics["catalogue_images"] == 32
    Registry(tmp_path / "reg").verify(mv)
    svc = load(mv)
    assert len(svc.item_ids) == 32 and svc.embeddings.shape[0] == 32
    ids, scores = svc.similar(svc.item_ids[0], k=5)
    assert len(ids) == 5 and svc.item_ids[0] not in ids
    assert np.all(np.diff(scores) <= 1e-6)
    with pytest.raises(KeyError):
        svc.similar("no-such-item")
    test = sorted((image_dir / "test").rglob("*.*"))
    res = classify_paths(svc, [*test[:2], image_dir / "train" / "stripes-h" / "broken.jpg"])
    assert [r["label"] for r in res[:2]] == [p.parent.name for p in test[:2]]
    assert "cannot decode" in res[2]["error"]


def test_unknown_model_and_parameter(tmp_path, image_dir):
    with pytest.raises(ValidationError, match="no vision model"):
        train(None, tmp_path, "vit", data=image_dir / "train")
    with pytest.raises(ValidationError, match="no parameter"):
        train(None, tmp_path, "cnn", data=image_dir / "train", params={"depth": 3})


def test_batch_job_auto_tags_items_without_category(shop, tmp_path):
    reg = tmp_path / "reg"
    train(shop, reg, "histogram-gbm", params=FLOOR)
    out = batch(reg, shop, tmp_path / "out" / "images.parquet", "local", None)  # as the CLI calls
    df = pd.read_parquet(out)
    assert len(df) == 12 and df["error"].isna().all()
    tagged = df[df["category"].isna()]
    assert len(tagged) == 2 and tagged["suggested_category"].notna().all()
    assert df.loc[df["category"].notna(), "suggested_category"].isna().all()
    assert len(df["embedding"].iloc[0]) > 0


def test_routes(shop, tmp_path, monkeypatch, image_dir):
    from shopml import capabilities
    from shopml.serve import create_app

    mine = {k: v for k, v in capabilities.specs().items() if k == "vision"}
    monkeypatch.setattr(capabilities, "specs", lambda: mine)
    reg = tmp_path / "reg"
    train(shop, reg, "cnn", params=TINY_CNN)
    app = create_app(shop, reg, api_key="k" * 16, pump_interval_s=0.02)
    photo = sorted((image_dir / "test" / "stripes-v").glob("*.*"))[0].read_bytes()
    with TestClient(app) as client:
        r = client.post(
            "/v1/images/classify",
            params={"top": 2, "similar": 3},
            content=photo,
            headers={"content-type": "image/jpeg"},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["label"] in ("stripes-h", "stripes-v") and len(body["top"]) == 2
        assert len(body["similar"]) == 3 and body["similar"][0]["title"].startswith("item")
        bad = client.post(
            "/v1/images/classify", content=b"junk", headers={"content-type": "image/jpeg"}
        )
        assert bad.status_code == 422 and "cannot decode" in bad.json()["message"]
        empty = client.post(
            "/v1/images/classify", content=b"", headers={"content-type": "image/png"}
        )
        assert empty.status_code == 422
        s = client.get("/v1/images/similar/i3", params={"k": 4})
        assert s.status_code == 200, s.text
        items = s.json()["items"]
        assert len(items) == 4 and "i3" not in [i["item_id"] for i in items]
        assert client.get("/v1/images/similar/nope").status_code == 404


def test_bench_on_files_with_a_test_set(image_dir, tmp_path):
    from shopml.benchmarks.vision import multiclass_metrics, run

    res = run(
        data=image_dir / "train",
        test=image_dir / "test",
        models=["majority", "histogram-gbm"],
        image_size=16,
        out=tmp_path / "r.json",
    )
    rows = {r.model: r for r in res.rows}
    assert rows["majority"].metrics["accuracy"] == pytest.approx(0.5)
    assert rows["histogram-gbm"].metrics["accuracy"] > 0.9
    assert any("2 training image(s) skipped" in n for n in res.notes)
    assert (tmp_path / "r.md").exists()
    m = multiclass_metrics(
        np.array(["a", "a", "b", "b"]), np.array(["a", "b", "b", "b"]), np.array(["a", "b"])
    )
    assert m["accuracy"] == 0.75 and m["per_class_f1"] == {
        "a": pytest.approx(2 / 3, abs=1e-4),
        "b": 0.8,
    }
    with pytest.raises(ValidationError, match="exactly one"):
        run(dataset="clothing-images", data=image_dir / "train")


def test_upload_bytes_round_trip(image_dir):
    buf = io.BytesIO()
    Image.new("RGB", (30, 20), (255, 0, 0)).save(buf, format="PNG")
    from shopml.vision.io import decode_one

    assert decode_one(buf.getvalue(), 8)[0, 0].tolist() == [255, 0, 0]


def test_cli_train_and_classify(image_dir, tmp_path):
    from typer.testing import CliRunner

    from shopml.cli import app

    runner = CliRunner()
    reg = str(tmp_path / "reg")
    params = "image_size=16,n_estimators=10,num_leaves=4,min_child_samples=2,cells=2"
    r = runner.invoke(
        app,
        [
            "train",
            "vision",
            "--data",
            str(image_dir / "train"),
            "-r",
            reg,
            "-m",
            "histogram-gbm",
            "--params",
            params,
        ],
    )
    assert r.exit_code == 0, r.output
    assert "registered vision/classifier v0001" in r.output and "broken.jpg" in r.output
    photo = sorted((image_dir / "test" / "stripes-h").glob("*.*"))[0]
    r = runner.invoke(
        app,
        ["classify-image", str(photo), str(image_dir / "nope.jpg"), "-r", reg, "--similar", "2"],
    )
    assert r.exit_code == 0, r.output
    assert f"{photo}: stripes-h" in r.output and "no such file" in r.output
    assert "similar:" in r.output


def test_bench_on_a_workspace_uses_a_stratified_split(shop):
    from shopml.benchmarks.vision import run

    res = run(workspace=shop, models=["majority", "histogram-gbm"], image_size=16)
    assert "stratified 80/20" in res.protocol
    assert sum(res.rows[0].extra["support"].values()) == 2  # 20% of the 10 labelled items
