"""Test-wide settings: quiet progress bars, one torch thread per xdist worker (2 workers on 2 cores)."""

import os

os.environ.setdefault("SHOPML_PROGRESS", "0")
os.environ.setdefault("SHOPML_DUCKDB_THREADS", "1")

import torch  # noqa: E402

torch.set_num_threads(1)
