"""A tiny simulated shop run through a whole pipeline once per module (a few seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest

from shopml.pipeline import parse_pipeline, run_pipeline

TINY = """\
name: tiny
workspace: {root}/shop.duckdb
registry: {root}/registry
data:
  simulate: {{users: 400, items: 80, days: 90, seed: 1, options: {{session_rate: 0.3}}}}
train:
  recommend:
    models: [itemknn, {{name: ease, params: {{l2: 10}}}}]
    test_days: 14
  clv: {{holdout_days: {holdout}}}
  churn: {{models: [logistic], horizon: 14, step: 14, n_train: 2}}
  search: {{encoder: null, max_queries: 200}}
evaluate: {{bootstrap: 100}}
register: best
report: {root}/report.html
"""


def tiny_text(root: Path, holdout: int = 21) -> str:
    return TINY.format(root=root, holdout=holdout)


def run_tiny(root: Path, holdout: int = 21, use_cache: bool = True) -> dict:
    text = tiny_text(root, holdout)
    return run_pipeline(parse_pipeline(text, "tiny.yaml"), source_text=text, use_cache=use_cache)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> tuple[Path, dict]:
    root = tmp_path_factory.mktemp("pipeline")
    return root, run_tiny(root)
