"""A tiny catalogue and a model-free text encoder for search tests."""

import numpy as np
import pandas as pd
import pytest


class WordEncoder:
    """Bag of known words as a vector: a deterministic stand-in for a sentence encoder."""

    def __init__(self, vocabulary: list[str]) -> None:
        self.index = {w: i for i, w in enumerate(vocabulary)}

    def encode(self, texts):
        out = np.zeros((len(texts), len(self.index) + 1), np.float32)
        out[:, -1] = 0.01  # no all-zero rows
        for i, t in enumerate(texts):
            for w in t.lower().replace("|", " ").split():
                j = self.index.get(w.rstrip("s"))
                if j is not None:
                    out[i, j] += 1.0
        return out


@pytest.fixture(scope="session")
def catalogue() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "item_id": [f"i{i}" for i in range(12)],
            "title": [
                "DEWALT 20-Volt Max Cordless Drill",
                "Corded Hammer Drill 7 Amp",
                "Claw Hammer 16 oz. Steel",
                "Ceiling Fan with Light Kit",
                "LED Light Bulb 60W Soft White",
                "Garden Hose 50 ft. Heavy Duty",
                "3/4 in. x 10 ft. PVC Pipe",
                "1/2 in. x 10 ft. Copper Pipe",
                "Round Toilet Seat in White",
                "Exterior Paint White Satin 1 Gal.",
                "Interior Paint Eggshell 1 Gal.",
                "Titanium Drill Bit Set 21-Piece",
            ],
            "category": [
                "tools",
                "tools",
                "tools",
                "lighting",
                "lighting",
                "garden",
                "plumbing",
                "plumbing",
                "bath",
                "paint",
                "paint",
                "tools",
            ],
            "brand": [
                "DEWALT",
                "Ryobi",
                "Estwing",
                "Hampton",
                "Philips",
                "Flexzilla",
                "Charlotte",
                "Mueller",
                "Kohler",
                "Behr",
                "Behr",
                "DEWALT",
            ],
            "price": [129.0, 59.0, 25.0, 99.0, 5.0, 45.0, 4.0, 18.0, 30.0, 38.0, 35.0, 20.0],
        }
    )


@pytest.fixture(scope="session")
def encoder() -> WordEncoder:
    return WordEncoder(
        "drill hammer fan light bulb hose pipe toilet seat paint white cordless copper "
        "garden ceiling bit tool lamp".split()
    )
