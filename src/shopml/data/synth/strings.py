"""Vectorised string building for the simulator: ids, templated text, JSON objects.

Everything works on whole arrays (loops run over templates or fields, never over rows).
"""

from __future__ import annotations

import re

import numpy as np

_SLOT = re.compile(r"\{(\w+)\}")


def ids(prefix: str, numbers: int | np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded number for ``range(numbers)`` (or the given ints), as objects.

    Built by writing the digits of ``number + 10**width`` into a UCS-4 buffer, which is two
    orders of magnitude faster than formatting each id in Python.
    """
    nums = np.arange(numbers) if isinstance(numbers, int) else np.asarray(numbers, dtype=np.int64)
    if nums.size and int(nums.max()) >= 10**width:
        width = len(str(int(nums.max())))
    digits = (nums.astype(np.int64) + 10**width).astype(f"U{width + 1}")
    codes = digits.view(np.uint32).reshape(-1, width + 1)[:, 1:]
    pre = np.frombuffer(prefix.encode("utf-32-le"), dtype=np.uint32)
    out = np.empty((nums.size, pre.size + width), dtype=np.uint32)
    out[:, : pre.size] = pre
    out[:, pre.size :] = codes
    return out.view(f"U{pre.size + width}").ravel().astype(object)


def fill(
    templates: tuple[str, ...] | list[str], choice: np.ndarray, values: dict[str, np.ndarray]
) -> np.ndarray:
    """Row ``r`` gets ``templates[choice[r]]`` with each ``{slot}`` replaced by ``values[slot][r]``."""
    choice = np.asarray(choice)
    out = np.empty(choice.size, dtype=object)
    for t, template in enumerate(templates):
        rows = np.flatnonzero(choice == t)
        if not rows.size:
            continue
        parts = _SLOT.split(template)  # literal, slot, literal, slot, ..., literal
        acc = np.full(rows.size, parts[0], dtype=object)
        for j in range(1, len(parts), 2):
            if parts[j] not in values:
                raise KeyError(f"template {template!r} needs a value for {{{parts[j]}}}")
            acc = acc + np.asarray(values[parts[j]], dtype=object)[rows] + parts[j + 1]
        out[rows] = acc
    return out


def capitalise(words: np.ndarray) -> np.ndarray:
    """First letter upper-cased, elementwise."""
    return np.char.capitalize(np.asarray(words, dtype=str)).astype(object)


def num(x: np.ndarray, decimals: int | None = None) -> np.ndarray:
    """Numbers as JSON literals (ints stay ints; floats rounded to ``decimals``)."""
    x = np.asarray(x)
    if decimals is not None:
        x = np.round(x, decimals)
    return x.astype(str).astype(object)


def money(x: np.ndarray) -> np.ndarray:
    """Amounts as JSON literals with two decimals ("12.30"), formatted from integer cents."""
    cents = np.round(np.asarray(x, dtype=float) * 100).astype(np.int64)
    sign = np.where(cents < 0, "-", "").astype(object)
    cents = np.abs(cents)
    frac = (cents % 100 + 100).astype("U3").view(np.uint32).reshape(-1, 3)[:, 1:]
    frac = np.ascontiguousarray(frac).view("U2").ravel().astype(object)
    return sign + (cents // 100).astype(str).astype(object) + "." + frac


def boolean(x: np.ndarray) -> np.ndarray:
    """Booleans as JSON literals."""
    return np.where(np.asarray(x, dtype=bool), "true", "false").astype(object)


def json_objects(fields: dict[str, tuple[np.ndarray, bool]]) -> np.ndarray:
    """One JSON object string per row from ``{key: (values, quoted)}``.

    ``quoted`` values are plain strings without quotes or backslashes (the simulator's own
    words and ids); unquoted values are JSON literals made by :func:`num` / :func:`boolean`.
    """
    acc: np.ndarray | str = "{"
    for j, (key, (values, quoted)) in enumerate(fields.items()):
        sep = "," if j else ""
        v = np.asarray(values, dtype=object)
        acc = acc + (f'{sep}"{key}":"' + v + '"' if quoted else f'{sep}"{key}":' + v)
    return np.asarray(acc + "}", dtype=object)
