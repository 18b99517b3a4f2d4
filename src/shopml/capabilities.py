"""The registered capabilities: one explicit list, plus third-party entry points.

Adding a capability is its package (with ``capability.py`` holding a
:class:`~shopml.core.capability.Capability` named ``SPEC``) and one line in :data:`BUILTIN`
(or, for a package outside shopml, an entry point in the group ``shopml.capabilities``). Every
consumer (CLI, ``shopml bench``, the pipeline, the service, batch jobs, the dashboard,
``shopml doctor``) iterates over :func:`specs`.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points

from shopml.core.capability import Capability, resolve
from shopml.core.errors import ValidationError

#: built-in capabilities, in the order the CLI, the dashboard and ``/readyz`` list them
BUILTIN: tuple[str, ...] = (
    "shopml.recommend.capability:SPEC",
    "shopml.predict.capability:SPEC",
    "shopml.predict.capability:CLV",
    "shopml.search.capability:SPEC",
    "shopml.text.capability:SPEC",
    "shopml.support.capability:SPEC",
    "shopml.vision.capability:SPEC",
    "shopml.bandits.capability:SPEC",
    "shopml.forecast.capability:SPEC",
    "shopml.inventory.capability:SPEC",
    "shopml.pricing.capability:SPEC",
)

ENTRY_POINT_GROUP = "shopml.capabilities"


@cache
def specs() -> dict[str, Capability]:
    """Every registered capability by name (built-in first, then entry points)."""
    out: dict[str, Capability] = {}
    refs = list(BUILTIN) + [ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)]
    for ref in refs:
        spec = resolve(ref)
        if not isinstance(spec, Capability):
            raise ValidationError(f"{ref} is not a Capability spec")
        if spec.name in out:
            raise ValidationError(f"two capabilities are named {spec.name!r} ({ref})")
        out[spec.name] = spec
    return out


def get(name: str) -> Capability:
    """The capability ``name``; the error lists the registered ones."""
    found = specs().get(name)
    if found is None:
        raise ValidationError(f"no capability {name!r}; registered: {sorted(specs())}")
    return found

