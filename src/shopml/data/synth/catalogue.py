"""The simulated catalogue: categories, latent item vectors, quality, prices, costs, elasticities, text."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from shopml.data.synth.config import SimConfig
from shopml.data.synth.strings import capitalise, fill, ids, json_objects, money
from shopml.data.synth.words import (
    BRAND_SYLLABLES,
    CATEGORIES,
    COLORS,
    DESCRIPTION_TEMPLATES,
    FEATURES,
)

BRANDS_PER_CATEGORY = 6
ITEM_SPREAD = 0.6  # sd of an item's vector around its category's
PRICE_SPREAD = 0.5  # sd of log list price within a category


@dataclass(frozen=True)
class Catalogue:
    """Items as parallel arrays (index = internal item number) plus per-category parameters."""

    ids: np.ndarray
    category: np.ndarray  # int, index into cat_names
    factors: np.ndarray  # (n_items, k) phi_i
    quality: np.ndarray  # q_i, appeal everybody sees before buying
    defect: np.ndarray  # delta_i, what only shows after buying
    base_price: np.ndarray  # p0_i, the reference (list) price
    rel_price: np.ndarray  # log(p0_i / median price of the category)
    cost: np.ndarray
    elasticity: np.ndarray  # epsilon_i < 0
    brand: np.ndarray
    noun: np.ndarray
    material: np.ndarray
    adjective: np.ndarray
    color: np.ndarray
    title: np.ndarray
    description: np.ndarray
    cat_names: np.ndarray
    cat_factors: np.ndarray  # (C, k) mu_c
    cat_weight: np.ndarray  # share of traffic and of the catalogue
    cat_peak: np.ndarray
    cat_amplitude: np.ndarray
    cat_return_rate: np.ndarray

    @property
    def n(self) -> int:
        return self.ids.size


def make_catalogue(cfg: SimConfig, rng: np.random.Generator) -> Catalogue:
    """Draw the catalogue (see the model in :mod:`shopml.data.synth`)."""
    templates = CATEGORIES[: cfg.n_categories]
    n_cat, n, k = cfg.n_categories, cfg.n_items, cfg.n_factors
    cat_factors = rng.normal(size=(n_cat, k))
    cat_weight = rng.dirichlet(np.full(n_cat, 4.0))
    # every category gets at least one item; the rest follow the category weights
    category = np.concatenate([np.arange(n_cat), rng.choice(n_cat, size=n - n_cat, p=cat_weight)])
    category = rng.permutation(category)
    factors = cat_factors[category] + ITEM_SPREAD * rng.normal(size=(n, k))

    n_syl = len(BRAND_SYLLABLES)
    pairs = rng.permutation(n_syl * n_syl)[: n_cat * BRANDS_PER_CATEGORY]
    syl = np.asarray(BRAND_SYLLABLES, dtype=object)
    brand_names = capitalise(syl[pairs // n_syl] + syl[pairs % n_syl])
    brand_strength = rng.normal(0.0, 0.3, brand_names.size)
    brand_idx = category * BRANDS_PER_CATEGORY + rng.integers(0, BRANDS_PER_CATEGORY, n)
    quality = brand_strength[brand_idx] + rng.normal(0.0, 0.5, n)
    defect = rng.normal(0.0, 0.5, n)

    median = np.array([t.median_price for t in templates])
    raw = median[category] * np.exp(PRICE_SPREAD * rng.normal(size=n))
    # shop prices end in .99 (or .x9 below 10)
    base_price = np.maximum(
        np.where(raw >= 10, np.round(raw) - 0.01, np.round(raw, 1) - 0.01), 0.49
    )
    base_price = np.round(base_price, 2)
    rel_price = np.log(base_price / median[category])
    cost = np.round(base_price * rng.uniform(0.35, 0.75, n), 2)
    mean_el = np.array([-t.elasticity for t in templates])
    elasticity = -np.clip(mean_el[category] * np.exp(0.3 * rng.normal(size=n)), 0.3, 3.5)

    noun = np.empty(n, dtype=object)
    material = np.empty(n, dtype=object)
    adjective = np.empty(n, dtype=object)
    use = np.empty(n, dtype=object)
    for c, t in enumerate(templates):  # a loop over categories, vectorised within
        rows = np.flatnonzero(category == c)
        for target, words in (
            (noun, t.nouns),
            (material, t.materials),
            (adjective, t.adjectives),
            (use, t.uses),
        ):
            target[rows] = np.asarray(words, dtype=object)[rng.integers(0, len(words), rows.size)]
    color = np.asarray(COLORS, dtype=object)[rng.integers(0, len(COLORS), n)]
    brand = brand_names[brand_idx]
    title = brand + " " + adjective + " " + material + " " + noun
    feature = fill(FEATURES, rng.integers(0, len(FEATURES), n), {"color": color})
    description = fill(
        DESCRIPTION_TEMPLATES,
        rng.integers(0, len(DESCRIPTION_TEMPLATES), n),
        {
            "Adjective": capitalise(adjective),
            "adjective": adjective,
            "noun": noun,
            "material": material,
            "brand": brand,
            "use": use,
            "feature": feature,
        },
    )
    return Catalogue(
        ids=ids("i", n, 6),
        category=category,
        factors=factors,
        quality=quality,
        defect=defect,
        base_price=base_price,
        rel_price=rel_price,
        cost=cost,
        elasticity=elasticity,
        brand=brand,
        noun=noun,
        material=material,
        adjective=adjective,
        color=color,
        title=title,
        description=description,
        cat_names=np.array([t.name for t in templates], dtype=object),
        cat_factors=cat_factors,
        cat_weight=cat_weight,
        cat_peak=np.array([t.peak_day for t in templates], dtype=float),
        cat_amplitude=np.array([t.amplitude for t in templates]),
        cat_return_rate=np.array([t.return_rate for t in templates]),
    )


def items_frame(cat: Catalogue, cfg: SimConfig) -> pd.DataFrame:
    """The canonical ``items`` table."""
    attributes = json_objects(
        {
            "cost": (money(cat.cost), False),
            "color": (cat.color, True),
            "material": (cat.material, True),
        }
    )
    return pd.DataFrame(
        {
            "item_id": cat.ids,
            "title": cat.title,
            "description": cat.description,
            "category": cat.cat_names[cat.category],
            "brand": cat.brand,
            "price": cat.base_price,
            "currency": cfg.currency,
            "attributes": attributes,
            "image_path": None,
        }
    )
