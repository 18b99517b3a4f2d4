"""Small labelled corpora for the text tests (no network, no real data needed)."""

from __future__ import annotations

import numpy as np
import pytest

POS = ["great", "excellent", "love", "wonderful", "perfect", "amazing", "fantastic", "superb"]
NEG = ["terrible", "awful", "hate", "broken", "useless", "horrible", "poor", "disappointing"]
NOUNS = ["battery", "screen", "price", "delivery", "sound", "design", "size", "colour"]


def corpus(n: int = 240, seed: int = 0) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(texts, stars 1-5, polarity labels): the sentiment words decide the label."""
    rng = np.random.default_rng(seed)
    stars = rng.choice([1, 2, 3, 4, 5], size=n, p=[0.2, 0.15, 0.15, 0.2, 0.3])
    texts = []
    for s in stars:
        noun = rng.choice(NOUNS)
        if s >= 4:
            words = rng.choice(POS, 2 if s == 5 else 1)
        elif s <= 2:
            words = rng.choice(NEG, 2 if s == 1 else 1)
        else:
            words = ["okay", "average"]
        texts.append(f"the {noun} is {' and '.join(words)}")
    labels = np.where(stars >= 4, "positive", np.where(stars <= 2, "negative", "neutral"))
    return texts, stars, labels


@pytest.fixture(scope="session")
def reviews_corpus():
    return corpus()


def has_nlp() -> bool:
    from shopml.text.embeddings import nlp_available

    return nlp_available()
