"""A small confounded demand panel with known elasticities (fast, no simulator)."""

from __future__ import annotations

import numpy as np
import pandas as pd


def toy_panel(
    n_items: int = 24, days: int = 240, confounding: float = 1.5, base: float = 20.0, seed: int = 0
) -> tuple[pd.DataFrame, pd.Series]:
    """Daily units of ``n_items`` products in 3 categories with their own seasons; prices follow
    the season with strength ``confounding``. Returns the panel and the true elasticities."""
    rng = np.random.default_rng(seed)
    cat = np.arange(n_items) % 3
    eps = -rng.uniform(0.8, 2.5, n_items)
    p0 = rng.uniform(5, 50, n_items)
    d = np.arange(days)
    ds = pd.Timestamp("2024-01-01") + pd.to_timedelta(d, unit="D")
    peak = np.array([30.0, 120.0, 250.0])
    z = 0.35 * np.cos(2 * np.pi * (d[None, :] - peak[cat][:, None]) / 365.25)  # (n, days)
    promo = rng.random((n_items, days)) < 0.1
    logp = np.log(p0)[:, None] + confounding * z + rng.normal(0, 0.08, (n_items, days))
    logp = logp + np.log(np.where(promo, 0.8, 1.0))
    price = np.round(np.exp(logp), 2)
    mu = base * np.exp(z) * (price / p0[:, None]) ** eps[:, None]
    y = rng.poisson(mu)
    ids = np.array([f"p{i:03d}" for i in range(n_items)])
    panel = pd.DataFrame(
        {
            "unique_id": np.repeat(ids, days),
            "ds": np.tile(ds, n_items),
            "y": y.ravel().astype(float),
            "price": price.ravel(),
            "category": np.repeat(np.array(["a", "b", "c"])[cat], days),
            "promo": promo.ravel().astype(float),
            "cost": np.repeat(np.round(p0 * 0.5, 2), days),
        }
    )
    return panel, pd.Series(eps, index=ids)
