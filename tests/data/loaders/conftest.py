"""Shared fixtures of the loader tests: a throw-away workspace and a dataset ingested once per module.

A test module sets ``DATASET = "<loader name>"`` and asks for ``ingested`` to get
``(workspace, reports)`` of that dataset's real files; modules that define their own
``ingested`` fixture keep theirs.
"""

import pytest

from shopml.data.loaders import get_loader
from shopml.data.workspace import Workspace


def require_dataset(name: str):
    """The named loader, or skip the test where its files are not in the data directory."""
    loader = get_loader(name)
    if not loader.found():
        pytest.skip(f"{name}: files not in the data directory ({loader.folder})")
    return loader


@pytest.fixture
def workspace():
    """An empty in-memory workspace, closed after the test."""
    with Workspace(":memory:") as ws:
        yield ws


@pytest.fixture(scope="module")
def ingested(request):
    """``(workspace, reports)`` after ingesting the module's ``DATASET`` from the data directory."""
    name = request.module.DATASET
    require_dataset(name)
    ws = Workspace(":memory:")
    reports = ws.ingest_dataset(name)
    yield ws, reports
    ws.close()
