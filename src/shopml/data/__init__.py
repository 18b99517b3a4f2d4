"""Data: canonical schema, the Workspace, loaders, splits and the shop simulator."""

from shopml.data.workspace import Workspace

__all__ = ["Workspace"]
