"""Search traffic reallocation: turn relevance scores into exposure shares.

A ranking by score alone gives new products no traffic (they have no clicks, so their learned
relevance stays low, so they are never shown...). :func:`exposure_shares` spreads a query's
traffic over its candidates with a softmax at a temperature, then guarantees new items an
exploration floor (and optionally lifts their score by a bonus before the softmax), so that good
new products get seen and can earn their place.

Shares of one query sum to 1. ``temperature -> 0`` gives all traffic to the best item (ties
share it); ``temperature -> inf`` spreads it evenly.
"""

from __future__ import annotations

import numpy as np

from shopml.core.errors import ValidationError


def exposure_shares(
    scores: np.ndarray,
    temperature: float = 1.0,
    is_new: np.ndarray | None = None,
    new_floor: float = 0.0,
    new_bonus: float = 0.0,
) -> np.ndarray:
    """Exposure share of each candidate (last axis) from its relevance score.

    Parameters
    ----------
    scores : array (..., n_items)
        Relevance scores; ``-inf`` or NaN marks an item that must get no traffic.
    temperature : float
        Softmax temperature (> 0; ``np.inf`` allowed: even split). Lower favours the top more.
    is_new : bool array broadcastable to ``scores``, optional
        Items without enough history to be scored fairly.
    new_floor : float
        Each new (eligible) item gets at least this share; the rest of the traffic is taken
        proportionally from the items above the floor. ``new_floor * n_new`` must stay <= 1.
    new_bonus : float
        Added to new items' scores before the softmax (optimism in the face of uncertainty).
    """
    s = np.array(scores, dtype=np.float64, copy=True)
    if s.ndim == 0 or s.shape[-1] == 0:
        raise ValidationError("scores must have at least one item on the last axis")
    if not (temperature > 0):
        raise ValidationError(f"temperature must be > 0, got {temperature}")
    if new_floor < 0 or new_bonus < 0:
        raise ValidationError(f"new_floor and new_bonus must be >= 0, got {new_floor}, {new_bonus}")
    eligible = ~np.isnan(s) & (s != -np.inf)
    if not eligible.any(axis=-1).all():
        raise ValidationError("every row of scores needs an eligible item (not NaN or -inf)")
    if is_new is None:
        new = np.zeros(s.shape, bool)
    else:
        try:
            new = np.broadcast_to(np.asarray(is_new, bool), s.shape)
        except ValueError as exc:
            raise ValidationError(f"is_new does not match scores' shape {s.shape}") from exc
    new = new & eligible
    s = np.where(new, s + new_bonus, s)
    s = np.where(eligible, s, -np.inf)

    if np.isinf(temperature):
        w = eligible.astype(np.float64)
    else:
        top = s.max(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", over="ignore"):
            z = (s - top) / temperature
        # +inf scores (or a vanishing temperature) leave nan/0 behind: the top ties share it
        z = np.where(np.isnan(z), 0.0, z)
        w = np.where(eligible, np.exp(z), 0.0)
    shares = w / w.sum(axis=-1, keepdims=True)

    if new_floor > 0 and new.any():
        n_new = new.sum(axis=-1, keepdims=True)
        if (n_new * new_floor > 1 + 1e-12).any():
            raise ValidationError(
                f"new_floor {new_floor} x {int(n_new.max())} new items exceeds all the traffic"
            )
        below = new & (shares < new_floor)
        # raise new items to the floor; everyone else (new items above the floor included) gives
        # up traffic in proportion to what they have above the floor, so nobody drops under it
        need = np.where(below, new_floor - shares, 0.0).sum(axis=-1, keepdims=True)
        base = np.where(new, new_floor, 0.0)
        spare = np.where(below, 0.0, shares - base)
        total_spare = spare.sum(axis=-1, keepdims=True)
        with np.errstate(invalid="ignore", divide="ignore"):
            scale = np.where(total_spare > 0, 1.0 - need / total_spare, 0.0)
        shares = np.where(below, new_floor, base + spare * scale)
        shares = shares / shares.sum(axis=-1, keepdims=True)
    return shares


def allocate_impressions(shares: np.ndarray, n: int, seed: int | None = 0) -> np.ndarray:
    """Split ``n`` impressions by ``shares`` (last axis): integer counts summing to ``n`` per row.

    Largest-remainder rounding, ties broken at random: a share of 0.1 over 1000 impressions is 100.
    """
    shares = np.asarray(shares, np.float64)
    if n < 0:
        raise ValidationError(f"n must be >= 0, got {n}")
    if (shares < 0).any() or not np.allclose(shares.sum(axis=-1), 1.0):
        raise ValidationError("shares must be non-negative and sum to 1 on the last axis")
    exact = shares * n
    counts = np.floor(exact).astype(np.int64)
    left = n - counts.sum(axis=-1, keepdims=True)
    jitter = np.random.default_rng(seed).random(shares.shape) * 1e-9
    order = np.argsort(-(exact - counts + jitter), axis=-1)
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(shares.shape[-1]) + np.zeros_like(order), axis=-1)
    return counts + (rank < left)
