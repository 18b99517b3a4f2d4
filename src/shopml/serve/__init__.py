"""The service: one FastAPI app over a workspace and a model registry (DESIGN.md §5).

>>> from shopml.serve import create_app
>>> app = create_app("shop.duckdb", "artifacts", api_key="a-long-secret")  # doctest: +SKIP

Modules: :mod:`~shopml.serve.app` (the app, ``shopml serve``), :mod:`~shopml.serve.state`
(model snapshots and reloads), :mod:`~shopml.serve.feedback` (durable feedback and the online
overlay), :mod:`~shopml.serve.schemas` (request/response bodies), :mod:`~shopml.serve.metrics`,
:mod:`~shopml.serve.auth`, :mod:`~shopml.serve.limits`, :mod:`~shopml.serve.monitoring` (drift
and realised quality of the served models), ``routers/`` (one per capability, named by the
capability specs).
"""

from shopml.serve.app import create_app
from shopml.serve.settings import ServeSettings

__all__ = ["ServeSettings", "create_app"]
