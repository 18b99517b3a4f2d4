"""Generated photos (two striped classes) on disk, a broken and a truncated file among them,
and a tiny workspace whose catalogue points at them."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from shopml.vision.base import toy_images


def write_images(folder, n: int = 32, size: int = 24, seed: int = 0) -> list[tuple[str, str]]:
    """``n`` toy images saved as ``folder/<class>/<i>.png`` (half JPEG); ``(path, label)``."""
    X, y = toy_images(n=n, size=size, seed=seed)
    out = []
    for i, (img, label) in enumerate(zip(X, y, strict=True)):
        d = folder / label
        d.mkdir(parents=True, exist_ok=True)
        p = d / (f"img{seed}_{i}.png" if i % 2 else f"img{seed}_{i}.jpg")
        Image.fromarray(img).save(p, quality=95)
        out.append((str(p), str(label)))
    return out


@pytest.fixture(scope="session")
def image_dir(tmp_path_factory):
    """``train/<class>/`` with 32 images + a corrupt one + a truncated JPEG, ``test/<class>/``."""
    root = tmp_path_factory.mktemp("photos")
    write_images(root / "train", 32, seed=0)
    write_images(root / "test", 12, seed=1)
    (root / "train" / "stripes-h" / "broken.jpg").write_bytes(b"not an image at all")
    buf = io.BytesIO()
    Image.fromarray(toy_images(2, 24)[0][0]).save(buf, format="JPEG")
    (root / "train" / "stripes-v" / "truncated.jpg").write_bytes(buf.getvalue()[:60])
    return root


@pytest.fixture()
def shop(tmp_path, image_dir):
    """A workspace: items with images, most with a category, two without (to auto-tag)."""
    from shopml.data.workspace import Workspace

    paths = sorted((image_dir / "test").rglob("*.*"))
    cats = [p.parent.name for p in paths]
    cats[0] = cats[1] = None
    path = tmp_path / "shop.duckdb"
    with Workspace(path) as ws:
        ws.append(
            "items",
            pd.DataFrame(
                {
                    "item_id": [f"i{k}" for k in range(len(paths))],
                    "title": [f"item {k}" for k in range(len(paths))],
                    "category": cats,
                    "price": np.full(len(paths), 10.0),
                    "image_path": [str(p) for p in paths],
                }
            ),
        )
    return path
