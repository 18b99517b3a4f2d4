"""Turn what a user hands an image model (file paths, decoded arrays, raw bytes, a folder of
labelled photos) into square uint8 batches, reporting every unreadable image with its reason.

Decoding uses Pillow's JPEG draft mode (the decoder scales by 1/2, 1/4 or 1/8 while reading),
which makes a 400x533 photo decode to a 64-pixel thumbnail several times faster than a full
decode followed by a resize: on a busy 2-core machine that is most of a benchmark's data time.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from shopml.core.errors import DataError, ValidationError
from shopml.core.progress import track

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


@dataclass
class Decoded:
    """Images decoded to ``(n_ok, size, size, 3)`` uint8, the input positions they came from,
    and ``(position, source, reason)`` for each input that could not be read."""

    images: np.ndarray
    index: np.ndarray
    skipped: list[tuple[int, str, str]] = field(default_factory=list)

    def skipped_report(self) -> list[dict[str, Any]]:
        """The skipped inputs as JSON-safe records."""
        return [{"position": i, "source": s, "reason": r} for i, s, r in self.skipped]


def _square(im: Image.Image, size: int) -> np.ndarray:
    """Scale to cover ``size`` x ``size`` and crop the centre (keeps the aspect ratio)."""
    im = ImageOps.fit(im.convert("RGB"), (size, size), method=Image.Resampling.BILINEAR)
    return np.asarray(im, dtype=np.uint8)


def decode_one(source: Any, size: int) -> np.ndarray:
    """One input (a path, raw bytes or an ``(H, W, 3)`` / ``(H, W)`` array) as a square
    ``(size, size, 3)`` uint8 image.

    Raises :class:`DataError` for a missing or undecodable file and :class:`ValidationError`
    for an input that is not an image at all (wrong type, wrong array shape).
    """
    if isinstance(source, np.ndarray):
        return _array_to_square(source, size)
    if isinstance(source, (bytes, bytearray, memoryview)):
        name, fh = "uploaded image", io.BytesIO(bytes(source))
    elif isinstance(source, (str, Path)):
        p = Path(source)
        if not p.is_file():
            raise DataError(f"image {p}: no such file")
        name, fh = str(p), p
    else:
        raise ValidationError(
            f"an image must be a path, bytes or an (H, W, 3) array, got {type(source).__name__}"
        )
    try:
        with Image.open(fh) as im:
            # draft() lets the JPEG decoder downscale while reading; it never goes below size
            im.draft("RGB", (size * 2, size * 2))
            im = ImageOps.exif_transpose(im)
            im.load()
            return _square(im, size)
    except (
        UnidentifiedImageError,
        OSError,
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
    ) as exc:
        # Pillow reports truncated and corrupt data with these; the message names the file
        raise DataError(f"image {name}: cannot decode ({type(exc).__name__}: {exc})") from exc


def _array_to_square(a: np.ndarray, size: int) -> np.ndarray:
    if a.ndim == 2:
        a = np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4) or min(a.shape[:2]) < 1:
        raise ValidationError(
            f"an image array must have shape (H, W, 3), (H, W, 4) or (H, W), got {a.shape}"
        )
    a = a[:, :, :3]
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise ValidationError("an image array holds NaN or infinite values")
        # floats are taken as [0, 1] intensities (what iter_image_batches yields)
        a = np.clip(np.rint(a * 255.0), 0, 255).astype(np.uint8)
    elif a.dtype != np.uint8:
        if a.dtype.kind not in "iu":
            raise ValidationError(f"an image array must be uint8 or float, got dtype {a.dtype}")
        a = np.clip(a, 0, 255).astype(np.uint8)
    if a.shape[0] == size and a.shape[1] == size:
        return np.ascontiguousarray(a)
    return _square(Image.fromarray(np.ascontiguousarray(a)), size)


def as_inputs(images: Any) -> list[Any]:
    """Validate a collection of images and return it as a list (one element per image).

    Accepts a 4-d array ``(N, H, W, 3)``, or a sequence of paths / bytes / 2-d or 3-d arrays.
    """
    if isinstance(images, (str, Path, bytes)):
        raise ValidationError("pass a list of images (a single path or bytes object is not one)")
    if isinstance(images, np.ndarray):
        if images.ndim != 4 or images.shape[-1] not in (3, 4):
            raise ValidationError(
                f"an image batch array must have shape (N, H, W, 3), got {images.shape}"
            )
        out = list(images)
    elif isinstance(images, Sequence) or hasattr(images, "__iter__"):
        out = list(images)
    else:
        raise ValidationError(f"images must be a list or an array, got {type(images).__name__}")
    if not out:
        raise ValidationError("no images given")
    for i, x in enumerate(out):
        if not isinstance(x, (str, Path, bytes, bytearray, memoryview, np.ndarray)):
            raise ValidationError(
                f"image {i} is a {type(x).__name__}; expected a path, bytes or an array"
            )
        if isinstance(x, np.ndarray) and x.ndim not in (2, 3):
            raise ValidationError(f"image {i} has shape {x.shape}; expected (H, W, 3)")
    return out


def decode_many(
    images: Any, size: int, *, skip_bad: bool, desc: str = "decoding images"
) -> Decoded:
    """Decode every image to ``(size, size, 3)`` uint8.

    With ``skip_bad``, an unreadable file is reported in ``Decoded.skipped`` with its reason and
    left out (``Decoded.index`` keeps the positions of those kept); without it, the first one
    raises :class:`DataError`. A wrong input type is always a :class:`ValidationError`.
    """
    items = as_inputs(images)
    out = np.empty((len(items), size, size, 3), dtype=np.uint8)
    keep = np.zeros(len(items), dtype=bool)
    skipped: list[tuple[int, str, str]] = []
    seq = track(items, desc) if len(items) > 256 else items
    for i, src in enumerate(seq):  # one file read per image: I/O bound, not a row loop
        try:
            out[i] = decode_one(src, size)
            keep[i] = True
        except DataError as exc:
            if not skip_bad:
                raise
            skipped.append((i, _label(src), str(exc)))
    idx = np.flatnonzero(keep)
    return Decoded(out[idx] if len(idx) < len(items) else out, idx, skipped)


def _label(src: Any) -> str:
    return str(src) if isinstance(src, (str, Path)) else f"<{type(src).__name__}>"


def read_labelled_images(data: str | Path) -> tuple[list[str], np.ndarray]:
    """``(paths, labels)`` of a labelled image set: a folder with one sub-folder per class, or
    a CSV with ``path`` and ``label`` columns (relative paths are taken from the CSV's folder).
    """
    p = Path(data)
    if p.is_dir():
        classes = sorted(d for d in p.iterdir() if d.is_dir() and not d.name.startswith("."))
        paths, labels = [], []
        for d in classes:
            files = sorted(
                f for f in d.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES
            )
            paths += [str(f) for f in files]
            labels += [d.name] * len(files)
        if not paths:
            raise DataError(
                f"{p} holds no images in class sub-folders (expected {p}/<class>/<image>.jpg)"
            )
        return paths, np.asarray(labels)
    if not p.is_file():
        raise DataError(f"{p}: no such folder or CSV file")
    with open(p, newline="", encoding="utf-8-sig") as fh:  # utf-8-sig drops a byte-order mark
        rows = list(csv.DictReader(fh))
    if not rows or not {"path", "label"} <= set(rows[0]):
        raise DataError(f"{p} must be a CSV with the columns path,label")
    paths, labels = [], []
    for r in rows:
        if not r["path"] or not r["label"]:
            continue
        q = Path(r["path"])
        paths.append(str(q if q.is_absolute() else p.parent / q))
        labels.append(r["label"].strip())
    if not paths:
        raise DataError(f"{p} has no rows with both a path and a label")
    return paths, np.asarray(labels)


__all__ = ["Decoded", "as_inputs", "decode_many", "decode_one", "read_labelled_images"]
