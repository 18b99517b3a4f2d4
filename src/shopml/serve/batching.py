"""Micro-batching of searches: concurrent queries go through one ``search_batch`` call.

A hybrid engine spends most of a query's CPU in two places that cost much less per query in a
batch: the MiniLM query encoding (one forward pass over padded queries) and the re-ranker
(one LightGBM prediction over every query's candidates). :class:`SearchBatcher` runs the engine
on one thread of its own, one batch at a time: a query that arrives while the thread is idle
starts at once (no added wait at low load); queries that arrive while a batch runs wait for it
and go together in the next one (up to ``max_batch``). Under load the batches grow by
themselves, so the cost per query falls exactly when it matters. ``max_wait_s > 0`` also holds
a query that finds the thread idle that long for companions (not needed for throughput; off by
default).

Only queries with the same engine, ``k``, ``method`` and filters share a batch (the engine's
``search_batch`` takes one of each); results are split per query. If a batch fails, its
queries are retried one by one, so one bad query cannot fail the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class Hits:
    """One query's results: item ids, scores (best first) and the corrected query."""

    item_ids: list[str]
    scores: np.ndarray
    corrected_query: str | None


@dataclass
class _Group:
    engine: Any
    k: int
    filters: Mapping[str, Any] | None
    method: str | None
    queries: list[str] = field(default_factory=list)
    futures: list[asyncio.Future] = field(default_factory=list)


def _filters_key(filters: Mapping[str, Any] | None) -> tuple:
    if not filters:
        return ()
    out = []
    for col, cond in sorted(filters.items()):
        if isinstance(cond, list | set | frozenset | tuple):
            cond = (type(cond).__name__, tuple(sorted(map(repr, cond))))
        out.append((col, repr(cond)))
    return tuple(out)


def split_results(res: Any, n: int) -> list[Hits]:
    """Per-query :class:`Hits` of a ``search_batch`` frame for ``n`` queries."""
    q = res["query_idx"].to_numpy()
    ids = res["item_id"].astype(str).to_numpy(dtype=object)
    scores = res["score"].to_numpy(dtype=np.float64)
    bounds = np.searchsorted(q, np.arange(n + 1))  # the frame is sorted by query, then rank
    corrected = res.attrs.get("corrected_queries") or [None] * n
    return [
        Hits(ids[lo:hi].tolist(), scores[lo:hi], corrected[j])
        for j, (lo, hi) in enumerate(zip(bounds[:-1], bounds[1:], strict=True))
    ]


def search_many(
    engine: Any,
    queries: list[str],
    k: int,
    filters: Mapping[str, Any] | None,
    method: str | None,
) -> list[Hits | BaseException]:
    """Run one batch (on the batcher's thread); on failure, each query alone."""
    try:
        res = engine.search_batch(queries, k=k, filters=filters, method=method)
        return list(split_results(res, len(queries)))
    except Exception as exc:  # noqa: BLE001 - handed to the waiting requests
        if len(queries) == 1:
            return [exc]
    out: list[Hits | BaseException] = []
    for q in queries:
        try:
            res = engine.search_batch([q], k=k, filters=filters, method=method)
            out.append(split_results(res, 1)[0])
        except Exception as exc:  # noqa: BLE001
            out.append(exc)
    return out


class SearchBatcher:
    """Groups the concurrent searches of one event loop into ``search_batch`` calls.

    Parameters
    ----------
    max_batch : int
        Most queries in one call.
    max_wait_s : float
        How long a query that finds the engine thread idle waits for companions (0: none).
    on_batch : callable, optional
        Called with each batch's size (the service feeds a Prometheus histogram).
    """

    def __init__(
        self,
        max_batch: int = 16,
        max_wait_s: float = 0.0,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self.max_batch = max_batch
        self.max_wait_s = max_wait_s
        self.on_batch = on_batch
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="shopml-search")
        self._groups: dict[tuple, _Group] = {}
        self._busy = False
        self._timer: asyncio.TimerHandle | None = None
        #: batches run and queries answered (sizes tell how much batching happened)
        self.batches = 0
        self.queries = 0

    async def search(
        self,
        engine: Any,
        query: str,
        k: int = 10,
        filters: Mapping[str, Any] | None = None,
        method: str | None = None,
    ) -> Hits:
        """The engine's results for one query, computed in a batch with concurrent ones."""
        loop = asyncio.get_running_loop()
        key = (id(engine), k, method, _filters_key(filters))
        group = self._groups.get(key)
        if group is None or group.engine is not engine:
            group = self._groups[key] = _Group(engine, k, filters, method)
        fut = loop.create_future()
        group.queries.append(query)
        group.futures.append(fut)
        if not self._busy:
            if self.max_wait_s > 0 and len(group.queries) < self.max_batch:
                if self._timer is None:
                    self._timer = loop.call_later(self.max_wait_s, self._start_next)
            else:
                self._start_next()
        result = await fut
        if isinstance(result, BaseException):
            raise result
        return result

    def _start_next(self) -> None:
        self._timer = None
        if self._busy or not self._groups:
            return
        key = next(iter(self._groups))  # oldest group first
        group = self._groups[key]
        queries, futures = group.queries[: self.max_batch], group.futures[: self.max_batch]
        del group.queries[: self.max_batch], group.futures[: self.max_batch]
        del self._groups[key]
        if group.queries:  # the rest goes behind the other groups (no group starves)
            self._groups[key] = group
        loop = asyncio.get_running_loop()
        try:
            job = loop.run_in_executor(
                self._executor, search_many, group.engine, queries, group.k, group.filters,
                group.method,
            )  # fmt: skip
        except RuntimeError as exc:  # the executor is shut down: fail these, stay usable
            for fut in futures:
                if not fut.done():
                    fut.set_result(exc)
            return
        self._busy = True
        self.batches += 1
        self.queries += len(queries)
        if self.on_batch is not None:
            self.on_batch(len(queries))

        def done(f: asyncio.Future) -> None:
            self._busy = False
            try:
                results: list[Any] = f.result()
            except BaseException as exc:  # noqa: BLE001 - the executor itself failed
                results = [exc] * len(futures)
            for fut, r in zip(futures, results, strict=True):
                if not fut.done():  # a cancelled request (client gone) is skipped
                    fut.set_result(r)
            self._start_next()

        job.add_done_callback(done)

    def close(self) -> None:
        """Stop the engine thread (after the batch in flight)."""
        self._executor.shutdown(wait=False, cancel_futures=True)
