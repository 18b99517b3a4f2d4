"""What every torch model in shopml shares, whatever its capability: choosing the device,
seeding without disturbing the caller's RNG, and weights <-> NumPy arrays (saved in ``arrays.npz``).

It lives in ``core`` so that ``shopml.predict`` and ``shopml.recommend`` can both use it without
importing each other.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import nn

from shopml.core.errors import ValidationError


def resolve_device(device: str | torch.device) -> torch.device:
    """``'auto'`` picks CUDA when available, else CPU; anything else is passed to torch."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValidationError(
            f"device={device!r} is not a torch device; expected 'auto', 'cpu' or 'cuda[:n]'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValidationError(f"device={device!r} asked for CUDA but this torch build has none")
    return dev


@contextlib.contextmanager
def seeded(seed: int, device: torch.device | None = None) -> Iterator[np.random.Generator]:
    """Seed torch inside the block without disturbing the caller's global RNG state.

    Parameter initialisation and dropout draw from torch's global generator, so the block seeds
    it, inside ``torch.random.fork_rng`` so the state outside is restored afterwards. Yields a
    NumPy generator for sampling, seeded with the same seed.
    """
    devices = [device] if device is not None and device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(int(seed))
        yield np.random.default_rng(int(seed))


def module_to_numpy(module: nn.Module, prefix: str = "module.") -> dict[str, np.ndarray]:
    """A module's state_dict as CPU numpy arrays, keys prefixed."""
    return {prefix + k: v.detach().cpu().numpy().copy() for k, v in module.state_dict().items()}


def numpy_to_module(
    module: nn.Module, arrays: dict[str, np.ndarray], prefix: str = "module."
) -> nn.Module:
    """Load arrays written by :func:`module_to_numpy` into ``module``; names and shapes must
    match."""
    state = {
        k[len(prefix) :]: torch.from_numpy(np.asarray(v))
        for k, v in arrays.items()
        if k.startswith(prefix)
    }
    expected = module.state_dict()
    missing = sorted(set(expected) - set(state))
    if missing:
        raise ValidationError(
            f"saved weights lack {missing[:5]}; the file does not match {type(module).__name__}"
        )
    for k, v in state.items():
        if k in expected and tuple(expected[k].shape) != tuple(v.shape):
            raise ValidationError(
                f"saved weight {k} has shape {tuple(v.shape)}, the model expects {tuple(expected[k].shape)}"
            )
    module.load_state_dict(state)
    return module


__all__ = ["module_to_numpy", "numpy_to_module", "resolve_device", "seeded"]
