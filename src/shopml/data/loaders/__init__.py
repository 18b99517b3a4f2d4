"""Named loaders, one module per public dataset, found automatically.

Adding a dataset = adding a module here with a :class:`Loader` subclass; nothing to register.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil

from shopml.core.errors import ValidationError
from shopml.data.loaders.base import Loader, data_dir


def _discover() -> dict[str, Loader]:
    found: dict[str, Loader] = {}
    for mod in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if mod.name in ("base", "generic"):
            continue
        module = importlib.import_module(f"{__name__}.{mod.name}")
        for _, cls in inspect.getmembers(module, inspect.isclass):
            if issubclass(cls, Loader) and cls is not Loader and cls.__module__ == module.__name__ and cls.name:
                found[cls.name] = cls()
    return dict(sorted(found.items()))


LOADERS: dict[str, Loader] = _discover()


def get_loader(name: str) -> Loader:
    """The named loader; raises with the list of known names otherwise."""
    try:
        return LOADERS[name]
    except KeyError:
        raise ValidationError(f"unknown dataset {name!r}; known: {sorted(LOADERS)}") from None


__all__ = ["LOADERS", "Loader", "data_dir", "get_loader"]
