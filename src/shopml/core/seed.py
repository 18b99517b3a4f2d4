"""Explicit seeding so that every run is reproducible."""

from __future__ import annotations

import random

import numpy as np


def seed_everything(seed: int) -> np.random.Generator:
    """Seed Python, NumPy and (when installed) torch; return a NumPy generator for local use."""
    random.seed(seed)
    np.random.seed(seed % (2**32))
    try:
        import torch

        torch.manual_seed(seed)
    except ImportError:  # torch is a core dependency, but seeding must not require it
        pass
    return np.random.default_rng(seed)
