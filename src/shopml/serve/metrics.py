"""Prometheus metrics of one server process: requests, latencies per route, model versions.

Each app has its own collector registry (several apps can live in one process, as in tests).
With several uvicorn workers, each worker reports its own counters (labelled by ``pid``), so a
scrape sees the worker that answered it.
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

# fine resolution where the service lives (sub-millisecond to 50 ms), coarse beyond
LATENCY_BUCKETS = (
    0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.075, 0.1,
    0.25, 0.5, 1.0, 2.5, 10.0,
)  # fmt: skip
_VERSION_RE = re.compile(r"^v(\d+)$")


class ServeMetrics:
    """The app's collectors."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        pid = str(os.getpid())
        self._pid = pid
        #: (method, route, status) -> the counter's and the histogram's child for that series
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}
        self.requests = Counter(
            "shopml_requests",
            "HTTP requests answered",
            ["method", "route", "status", "pid"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "shopml_request_seconds",
            "Time to answer a request",
            ["method", "route", "pid"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.model_version = Gauge(
            "shopml_model_version",
            "Loaded model version number (v0003 -> 3)",
            ["capability", "name", "pid"],
            registry=self.registry,
        )
        self.snapshot_generation = Gauge(
            "shopml_snapshot_generation",
            "How many times models were (re)loaded",
            ["pid"],
            registry=self.registry,
        )
        self.feedback_events = Counter(
            "shopml_feedback_events",
            "Feedback events by outcome (logged = durable in the log; "
            "committed = taken into the workspace by this process)",
            ["outcome", "pid"],
            registry=self.registry,
        )

        self.search_batch = Histogram(
            "shopml_search_batch_size",
            "Queries per search micro-batch (encoded and re-ranked together)",
            ["pid"],
            buckets=(1, 2, 4, 8, 16, 32, 64, 128),
            registry=self.registry,
        )
        self.input_drift = Gauge(
            "shopml_input_drift_psi",
            "Population stability index of a feature of the served rows against training",
            ["capability", "name", "feature", "pid"],
            registry=self.registry,
        )
        self.score_drift = Gauge(
            "shopml_score_drift_psi",
            "Population stability index of the served scores against training",
            ["capability", "name", "pid"],
            registry=self.registry,
        )
        self.realised = Gauge(
            "shopml_realised",
            "Realised quality and decision cost on outcomes that arrived after training "
            "(auc, auprc, cost, cost_do_nothing, excess = cost / do-nothing cost - 1)",
            ["capability", "name", "metric", "pid"],
            registry=self.registry,
        )

    def observe_search_batch(self, size: int) -> None:
        """One micro-batch of ``size`` queries went to the search engine."""
        self.search_batch.labels(self._pid).observe(size)

    def set_monitoring(self, values: dict[str, list[tuple[tuple[str, ...], float]]]) -> None:
        """Replace the monitoring gauges (see :func:`shopml.serve.monitoring.gauges`)."""
        for key, gauge in (
            ("input", self.input_drift), ("score", self.score_drift), ("realised", self.realised)
        ):
            gauge.clear()
            for labels, value in values.get(key, []):
                gauge.labels(*labels, self._pid).set(value)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        children = self._children.get(key)
        if children is None:  # resolving labels takes locks and validation: once per series
            children = self._children[key] = (
                self.requests.labels(method, route, str(status), self._pid),
                self.latency.labels(method, route, self._pid),
            )
        children[0].inc()
        children[1].observe(seconds)

    def set_models(self, versions: dict[tuple[str, str], str], generation: int) -> None:
        """Replace the model-version gauge with the loaded versions."""
        self.model_version.clear()
        for (capability, name), version in versions.items():
            m = _VERSION_RE.match(version)
            self.model_version.labels(capability, name, self._pid).set(int(m.group(1)) if m else -1)
        self.snapshot_generation.labels(self._pid).set(generation)

    def count_feedback(self, outcome: str, n: int) -> None:
        if n:
            self.feedback_events.labels(outcome, self._pid).inc(n)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """ASGI middleware: counts and times every HTTP request by its route template.

    The route template (``/v1/recommendations/{user_id}``), not the raw path, is the label, so
    user and item ids do not multiply the series; unmatched paths count as ``<unmatched>``.
    """

    def __init__(self, app: Any, metrics: ServeMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = {"code": 500}

        async def send_wrapper(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        t0 = time.perf_counter()
        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or "<unmatched>"
            self.metrics.observe(
                scope["method"], template, status["code"], time.perf_counter() - t0
            )
