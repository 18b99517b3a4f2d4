"""The capability spec: one record per capability that says where each of its parts lives.

A capability (recommend, predict, search, forecast, ...) is a package ``shopml/<name>/`` with its
contract and models, plus one :class:`Capability` record in ``shopml/<name>/capability.py``
registered in :data:`shopml.capabilities.BUILTIN` (or by a third-party package under the entry
point group ``shopml.capabilities``). The CLI, ``shopml bench``, the pipeline, the service (its
routers and its one generic model loader), batch jobs, the dashboard's navigation and
``shopml doctor`` all iterate over the registered specs; nothing else needs a hand edit.

Parts that belong to a higher layer (the API router in ``serve``, the pipeline step in
``pipeline``, the suite in ``benchmarks``, the commands in ``cli``) are named by *import strings*
(``"package.module:attribute"``), resolved only by the layer that uses them. So the capability
package never imports upward, import-linter's layers hold without exceptions, and an optional
extra (statsforecast, sentence-transformers) is imported only when its part is used.

The callables a spec names follow these signatures:

- ``train(workspace, registry, model, **options) -> ModelVersion``: fit ``model`` (a name from
  ``models``) on the workspace and register it under ``<capability>/<name>``;
- ``load(version, ctx: LoadContext) -> Any``: the object the service keeps for a registered
  version (usually the model itself; no refitting);
- ``bench(dataset=None, data_dir=None, workspace=None, **options) -> BenchResult``;
- ``batch(registry, workspace, out, engine="local", **options) -> Path``;
- ``cli``: a module whose import adds the capability's commands to the Typer app.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from shopml.core.errors import ShopMLError, ValidationError


def resolve(ref: str) -> Any:
    """The object an import string ``"package.module:attr"`` names (``attr`` may be dotted)."""
    module, sep, attr = ref.partition(":")
    if not sep or not module or not attr:
        raise ValidationError(f"import string {ref!r} must look like 'package.module:attribute'")
    obj: Any = importlib.import_module(module)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ShopMLError(f"{module} has no attribute {attr!r} (import string {ref!r})") from None
    return obj


def import_part(module: str) -> Any:
    """Import a part named by module only (``cli``, ``steps``), which registers itself."""
    return importlib.import_module(module)


@dataclass(frozen=True)
class Requirement:
    """Data a capability needs, checked by ``shopml doctor`` before anything is trained.

    ``table`` must have at least ``min_rows`` rows (after ``where``) with the ``columns``
    not null, spanning at least ``min_days`` days of ``time_column``. ``why`` finishes the
    sentence "needs ...".
    """

    table: str
    columns: tuple[str, ...] = ()
    min_rows: int = 1
    min_days: int = 0
    time_column: str = "ts"
    where: str = ""
    why: str = ""


@dataclass(frozen=True)
class AnyOf:
    """Requirements of which one suffices (e.g. demand from ``orders`` or from ``sales``)."""

    options: tuple[Requirement, ...]


@dataclass(frozen=True)
class Monitor:
    """What to watch once a capability's model is served.

    ``kind``: ``input_drift`` (population stability per feature against the training snapshot),
    ``score_drift`` (the served scores' distribution), ``quality`` (``metric`` realised as
    outcomes arrive through feedback) or ``cost`` (realised decision cost against doing nothing).
    """

    kind: Literal["input_drift", "score_drift", "quality", "cost"]
    description: str
    metric: str = ""


@dataclass(frozen=True)
class Page:
    """A dashboard page: ``/dashboard/<slug>`` serves ``shopml/serve/static/<file>``."""

    slug: str
    title: str
    file: str
    order: int = 50  # position in the navigation (overview is 0)


@dataclass(frozen=True)
class LoadContext:
    """What the service hands a spec's ``load``.

    ``open_workspace()`` is a context manager giving the workspace read-only (waiting while a
    writer holds it); ``settings`` are the service's settings (``search_encoder``, ...).
    """

    workspace: Path | None
    open_workspace: Callable[[], Any]
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Capability:
    """One capability: its models and where each of its parts lives (see the module docstring)."""

    name: str
    summary: str
    #: import string of a ``Mapping[str, type]`` (model name -> class) or a function returning one
    models: str
    train: str | None = None
    load: str | None = None
    bench: str | None = None
    steps: tuple[str, ...] = ()  # modules whose import registers pipeline steps
    router: str | None = None
    batch: str | None = None
    cli: str | None = None
    page: Page | None = None
    pages: tuple[Page, ...] = ()  # further pages, where a capability has more than one
    requires: tuple[Requirement | AnyOf, ...] = ()
    monitors: tuple[Monitor, ...] = ()
    #: the pip extra its optional parts need (``pip install 'shopml[<extra>]'``)
    extra: str | None = None
    #: older registry places (``"folder/name"``) whose versions this capability also serves
    legacy: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValidationError(f"capability name {self.name!r} must be an identifier")
        for ref in (self.models, self.train, self.load, self.bench, self.router, self.batch):
            if ref is not None and ":" not in ref:
                raise ValidationError(f"{self.name}: {ref!r} is not an import string 'module:attr'")

    @property
    def all_pages(self) -> tuple[Page, ...]:
        """Every dashboard page of the capability."""
        return ((self.page,) if self.page is not None else ()) + self.pages

    def model_classes(self) -> Mapping[str, type]:
        """Model name -> class, resolved now (imports the capability's model modules)."""
        obj = resolve(self.models)
        return obj() if callable(obj) and not isinstance(obj, Mapping) else obj

    def part(self, which: str) -> Any:
        """Resolve one of ``train``, ``load``, ``bench``, ``router``, ``batch``."""
        ref = getattr(self, which)
        if ref is None:
            raise ValidationError(f"capability {self.name!r} has no {which}")
        try:
            return resolve(ref)
        except ImportError as e:
            hint = f" (pip install 'shopml[{self.extra}]')" if self.extra else ""
            raise ShopMLError(f"{self.name} {which} needs {e.name or e}{hint}") from e
