"""Decode product images lazily with Pillow (torchvision does not import beside this torch).

Tables keep only ``items.image_path``; pixels are read when a model asks for them, one batch at
a time, so a catalogue of any size costs no memory at ingest.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shopml.core.errors import DataError, ValidationError

Size = int | tuple[int, int]


def _hw(size: Size) -> tuple[int, int]:
    """``size`` as (height, width), checked."""
    hw = (size, size) if isinstance(size, int) else tuple(size)
    if len(hw) != 2 or not all(isinstance(v, int | np.integer) and v > 0 for v in hw):
        raise ValidationError(
            f"size must be a positive int or (height, width) of positive ints, got {size!r}"
        )
    return int(hw[0]), int(hw[1])


def load_image(path: str | Path, size: Size | None = None, fit: str = "crop") -> np.ndarray:
    """One image as an ``(H, W, 3)`` uint8 RGB array.

    Parameters
    ----------
    path
        Image file (any format Pillow reads); EXIF orientation is applied.
    size
        Output ``(height, width)``, or an int for a square; ``None`` keeps the original size.
    fit
        ``"crop"`` scales to cover ``size`` and crops the centre (keeps the aspect ratio);
        ``"stretch"`` resizes to ``size`` whatever the aspect ratio.

    Raises
    ------
    DataError
        The file is missing or is not a readable image (truncated, corrupt, not an image).
    """
    if fit not in ("crop", "stretch"):
        raise ValidationError(f"fit must be 'crop' or 'stretch', got {fit!r}")
    hw = _hw(size) if size is not None else None
    p = Path(path)
    if not p.is_file():
        raise DataError(f"image {p}: no such file")
    try:
        with Image.open(p) as im:
            im = ImageOps.exif_transpose(im).convert("RGB")
            if hw is not None:
                wh = (hw[1], hw[0])  # Pillow speaks (width, height)
                if fit == "crop":
                    im = ImageOps.fit(im, wh, method=Image.Resampling.BILINEAR)
                else:
                    im = im.resize(wh, Image.Resampling.BILINEAR)
            return np.asarray(im, dtype=np.uint8).copy()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        # Pillow signals truncated/corrupt data with these; the message says which file
        raise DataError(f"image {p}: cannot decode ({type(exc).__name__}: {exc})") from exc


def iter_image_batches(
    paths: Iterable[str | Path],
    size: Size,
    batch_size: int = 64,
    fit: str = "crop",
    channels_first: bool = False,
) -> Iterator[np.ndarray]:
    """Yield float32 batches in [0, 1] of the images at ``paths``, in order.

    Each batch is ``(B, H, W, 3)`` (or ``(B, 3, H, W)`` with ``channels_first``, the layout
    torch convolutions take); the last batch may be smaller. A missing or corrupt image raises
    :class:`DataError` naming it: a silently skipped image would misalign batches and labels.
    """
    if not isinstance(batch_size, int) or batch_size <= 0:
        raise ValidationError(f"batch_size must be a positive int, got {batch_size!r}")
    h, w = _hw(size)
    batch = np.empty((batch_size, h, w, 3), dtype=np.float32)
    n = 0
    for path in paths:
        batch[n] = load_image(path, (h, w), fit=fit)
        n += 1
        if n == batch_size:
            yield _finish(batch, n, channels_first)
            batch = np.empty_like(batch)
            n = 0
    if n:
        yield _finish(batch, n, channels_first)


def _finish(batch: np.ndarray, n: int, channels_first: bool) -> np.ndarray:
    out = batch[:n]
    out /= 255.0
    return np.ascontiguousarray(out.transpose(0, 3, 1, 2)) if channels_first else out
