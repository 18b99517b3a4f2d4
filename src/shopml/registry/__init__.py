"""Versioned model artifacts: ``<root>/<capability>/<name>/<version>/`` with meta.json."""

from shopml.registry.registry import (
    IntegrityError,
    ModelNotFoundError,
    ModelVersion,
    Registry,
    RegistryError,
)

__all__ = ["IntegrityError", "ModelNotFoundError", "ModelVersion", "Registry", "RegistryError"]
