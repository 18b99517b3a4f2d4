"""The ``images`` pipeline step over a clothing-style dataset folder of generated photos."""

from __future__ import annotations

import json

from shopml.pipeline.config import parse_pipeline
from shopml.pipeline.runner import run_pipeline
from shopml.registry import Registry
from tests.vision.conftest import write_images


def test_images_step_registers_the_best_model(tmp_path):
    folder = tmp_path / "clothing"
    rows = write_images(folder / "train", 40, seed=0)
    lines = ["path,split,label,width,height,mode"] + [
        f"{p[len(str(folder)) + 1 :]},train,{label},24,24,RGB" for p, label in rows
    ]
    (folder / "labels.csv").write_text("\n".join(lines) + "\n")
    cfg = parse_pipeline(f"""
name: photos
workspace: {tmp_path / "ws.duckdb"}
registry: {tmp_path / "reg"}
data: {{dataset: clothing-images, path: {folder}}}
train:
  images:
    models: [histogram-gbm]
    params:
      histogram-gbm: {{image_size: 16, n_estimators: 10, num_leaves: 4, min_child_samples: 2}}
""")
    record = run_pipeline(cfg, use_cache=False)
    text = json.dumps(record, default=str)
    assert "histogram-gbm" in text and "majority (baseline)" in text
    mv = Registry(tmp_path / "reg").latest("vision", "classifier")
    assert mv.config["model"] == "histogram-gbm" and mv.metrics["accuracy"] > 0.9
