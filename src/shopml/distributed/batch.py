"""Batch inference over every user, customer or row, written to one Parquet file.

A :class:`BatchJob` is what to score (``rows``, one per user / customer / feature row), the
loaded model, and a module-level function ``score(model, batch) -> frame`` that scores one batch.
:func:`run_batch` runs it with either engine:

- ``local``: the rows in batches of ``batch_size``, one after the other, in this process;
- ``ray``: Ray Data over the same batches (one block per batch), scored by ``concurrency``
  actors that each take the model once from Ray's object store (so a cluster needs no shared
  file system for the model), streamed back in order.

Both engines cut the rows at the same places and call the same function on each batch, so they
write the same file, row for row and bit for bit (the tests check this). Rows that are a Parquet
file or folder (``rows`` a :class:`~pathlib.Path`) are never gathered on the driver: the local
engine streams its record batches, the Ray engine reads it with ``ray.data.read_parquet`` in
tasks that score what they read — the path for data that does not fit one machine (a folder
every node mounts at the same path). There Ray decides where batches start: the order of rows is kept, and a
model that scores each row on its own gives the same numbers (tested for logistic regression;
a BLAS kernel may round differently for another batch shape). Jobs:
:func:`recommend_job` (top-k for every user a recommender knows), :func:`predictor_job` (a
:class:`~shopml.predict.base.Predictor` over the rows of a Parquet file) and :func:`clv_job`
(lifetime value of every customer in a workspace). A new capability adds a ``*_job`` builder and
a score function; the engines need nothing new.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from shopml.core.errors import DataError, ValidationError
from shopml.core.persist import atomic_path as _atomic_path
from shopml.core.progress import track
from shopml.distributed.engine import check_engine, ray_session

ScoreFn = Callable[[Any, pd.DataFrame], pd.DataFrame]


@dataclass
class BatchJob:
    """Rows to score, the loaded model and the function that scores one batch with it.

    ``score`` must be picklable by reference (a module-level function, or a
    :func:`functools.partial` of one) so Ray workers can import it.
    """

    name: str
    rows: pd.DataFrame | Path  # a Path: Parquet file(s) read where they lie
    model: Any
    score: ScoreFn
    batch_size: int = 2048
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class BatchResult:
    """Where the output went and what it took."""

    path: Path
    engine: str
    rows_in: int
    rows_out: int
    batches: int
    seconds: float

    def summary(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "engine": self.engine,
            "rows_in": self.rows_in,
            "rows_out": self.rows_out,
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
        }


# ----------------------------------------------------------------------------- engines


def run_batch(
    job: BatchJob,
    out: str | Path,
    engine: str = "local",
    address: str | None = None,
    concurrency: int | None = None,
) -> BatchResult:
    """Score every row of ``job`` and write the results to the Parquet file ``out`` atomically.

    ``concurrency`` is the number of Ray actors (default: the cluster's CPUs, at most the number
    of batches), or of parallel tasks for a Parquet source; the local engine ignores it.
    """
    check_engine(engine, address)
    out = _check_out(out)
    if not isinstance(job.batch_size, (int, np.integer)) or job.batch_size < 1:
        raise ValidationError(f"batch_size must be a positive integer, got {job.batch_size!r}")
    if isinstance(job.rows, Path):
        return _run_parquet_source(job, out, engine, address, concurrency)
    if len(job.rows) == 0:
        raise DataError(f"{job.name}: nothing to score (no rows)")
    chunks = _chunks(job.rows, int(job.batch_size))
    t0 = time.perf_counter()
    if engine == "local":
        tables = (to_arrow(job.score(job.model, c)) for c in track(chunks, f"{job.name} (local)"))
        n_out = _write_parquet(tables, out)
    else:
        with ray_session(address) as ray:
            n_out = _write_parquet(_ray_tables(ray, job, chunks, concurrency), out)
    seconds = time.perf_counter() - t0
    return BatchResult(out, engine, len(job.rows), n_out, len(chunks), seconds)


def _run_parquet_source(
    job: BatchJob, out: Path, engine: str, address: str | None, concurrency: int | None
) -> BatchResult:
    """Rows read from Parquet where they lie, never gathered on the driver: the local engine
    streams record batches, the Ray engine reads with ``ray.data.read_parquet`` on the workers
    (a path every node sees, e.g. an NFS mount)."""
    import pyarrow.dataset as pds

    path, size, counts = job.rows, int(job.batch_size), {"in": 0, "batches": 0}

    def counted(tables: Iterator[pa.Table]) -> Iterator[pa.Table]:
        for t in tables:
            counts["in"] += int(t.num_rows)
            yield t

    t0 = time.perf_counter()
    if engine == "local":
        batches = counted(
            pa.Table.from_batches([b])
            for b in pds.dataset(path, format="parquet").to_batches(batch_size=size)
        )
        scorer = _Scorer(job.model, job.score, input_arrow=True)
        n_out = _write_parquet(_count_batches((scorer(b) for b in batches), counts), out)
    else:
        with ray_session(address) as ray:
            from ray.data import DataContext

            DataContext.get_current().execution_options.preserve_order = True
            source = ray.data.read_parquet(str(path))
            counts["in"] = source.count()  # from the Parquet footers, without reading the rows
            # tasks, not an actor pool: each task reads a block and scores it in one process
            # (Ray fuses the two), so no actor holds the CPUs that the reads are waiting for
            ds = source.map_batches(
                _score_arrow,
                fn_kwargs={"model": ray.put(job.model), "score": job.score},
                batch_format="pyarrow",
                batch_size=size,
                concurrency=concurrency,
            )
            tables = ds.iter_batches(batch_format="pyarrow", batch_size=None)
            n_out = _write_parquet(_count_batches(tables, counts), out)
    if counts["in"] == 0:
        raise DataError(f"{job.name}: nothing to score (no rows in {path})")
    return BatchResult(
        out, engine, counts["in"], n_out, counts["batches"], time.perf_counter() - t0
    )


def _score_arrow(batch: pa.Table, model: Any, score: ScoreFn) -> pa.Table:
    """A Ray Data task: score one Arrow batch (the model comes from the object store)."""
    return _Scorer(model, score, input_arrow=True)(batch)


def _count_batches(tables: Iterator[pa.Table], counts: dict[str, int]) -> Iterator[pa.Table]:
    for t in tables:
        counts["batches"] += 1
        yield t


def _chunks(rows: pd.DataFrame, size: int) -> list[pd.DataFrame]:
    rows = rows.reset_index(drop=True)
    return [rows.iloc[s : s + size] for s in range(0, len(rows), size)]


class _Scorer:
    """Scores batches with a model taken once (a Ray Data actor takes it from the object store).

    Both conversions happen here, the same for both engines, so Ray never re-types a column:
    Arrow input (``input_arrow``) to pandas, and the result frame to Arrow.
    """

    def __init__(self, model: Any, score: ScoreFn, input_arrow: bool = False) -> None:
        try:
            import ray

            # a top-level ObjectRef argument arrives resolved; a nested one would not
            model = ray.get(model) if isinstance(model, ray.ObjectRef) else model
        except ImportError:  # the local engine without Ray installed
            pass
        self.model, self.score, self.input_arrow = model, score, input_arrow

    def __call__(self, batch: pd.DataFrame | pa.Table) -> pa.Table:
        frame = batch.to_pandas() if self.input_arrow else batch
        return to_arrow(self.score(self.model, frame))


def _ray_tables(
    ray: Any, job: BatchJob, chunks: list[pd.DataFrame], concurrency: int | None
) -> Iterator[pa.Table]:
    from ray.data import ActorPoolStrategy, DataContext

    DataContext.get_current().execution_options.preserve_order = True
    if concurrency is None:
        concurrency = max(1, int(ray.cluster_resources().get("CPU", 1)))
    concurrency = max(1, min(int(concurrency), len(chunks)))
    model_ref = ray.put(job.model)
    # one block per batch and batch_size=None (a whole block per call): Ray cuts the rows exactly
    # where the local engine does, so both engines compute every number in the same batches
    ds = ray.data.from_pandas(chunks).map_batches(
        _Scorer,
        fn_constructor_args=(model_ref, job.score),
        batch_format="pandas",
        batch_size=None,
        compute=ActorPoolStrategy(size=concurrency),
        num_cpus=1,
    )
    yield from ds.iter_batches(batch_format="pyarrow", batch_size=None)


# ----------------------------------------------------------------------------- output


def _check_out(out: str | Path) -> Path:
    out = Path(out)
    if out.suffix != ".parquet":
        raise ValidationError(f"--out must be a .parquet file, got {str(out)!r}")
    if out.is_dir():
        raise ValidationError(f"--out {str(out)!r} is a directory; give a file name")
    return out


def to_arrow(frame: pd.DataFrame) -> pa.Table:
    """A result frame as an Arrow table (the one conversion both engines use)."""
    return pa.Table.from_pandas(frame, preserve_index=False)


def _write_parquet(tables: Iterator[pa.Table], out: Path) -> int:
    """Stream tables into one Parquet file (never all in memory); the number of rows written."""
    n, writer, schema = 0, None, None
    with _atomic_path(out) as tmp:
        try:
            for table in tables:
                if writer is None:
                    schema = table.schema
                    writer = pq.ParquetWriter(tmp, schema)
                elif not table.schema.equals(schema):
                    table = table.cast(schema)  # e.g. an all-null column typed differently
                writer.write_table(table)
                n += table.num_rows
        finally:
            if writer is not None:
                writer.close()
        if writer is None:
            raise DataError(f"no batch produced output for {out}")
    return n


# ----------------------------------------------------------------------------- recommend


def recommend_rows(
    model: Any, batch: pd.DataFrame, k: int = 10, exclude_seen: bool = True, unknown: str = "error"
) -> pd.DataFrame:
    """Top-``k`` of the users in ``batch["user_id"]``: ``user_id, item_id, score, rank``."""
    return model.recommend(
        batch["user_id"].to_numpy(), k=k, exclude_seen=exclude_seen, unknown=unknown
    )


def recommend_job(
    model: Any,
    k: int = 10,
    exclude_seen: bool = True,
    users: list[str] | np.ndarray | None = None,
    batch_size: int | None = None,
    unknown: str = "error",
) -> BatchJob:
    """Recommendations for ``users`` (default: every user the model was trained on).

    ``unknown`` is :meth:`Recommender.recommend`'s: ``'error'`` rejects users the model has not
    seen before any work starts, ``'popular'`` gives them the cold-start answer.
    """
    from shopml.recommend.base import Recommender

    if not isinstance(model, Recommender):
        raise ValidationError(f"recommend_job needs a Recommender, got {type(model).__name__}")
    model._check_fitted()
    model._check_k(k)
    ids = model.users_.ids if users is None else np.asarray(users, dtype=object).astype(str)
    if unknown not in ("error", "popular"):
        raise ValidationError(f"unknown={unknown!r}; expected 'error' or 'popular'")
    # a dictionary lookup: np.isin on object arrays compares every pair (minutes at 10^4 users)
    new = model.users_.encode(ids, strict=False) < 0
    if unknown == "error" and new.any():
        raise ValidationError(f"unknown user id(s) {ids[new][:5].tolist()} for this model")
    return BatchJob(
        name="recommend",
        rows=pd.DataFrame({"user_id": np.asarray(ids, dtype=object)}),
        model=model,
        score=functools.partial(
            recommend_rows, k=int(k), exclude_seen=exclude_seen, unknown=unknown
        ),
        batch_size=int(batch_size or model.batch_size),
        info={"k": int(k), "exclude_seen": exclude_seen, "model": type(model).__name__},
    )


# ----------------------------------------------------------------------------- predict


def predict_rows(model: Any, batch: pd.DataFrame) -> pd.DataFrame:
    """The batch's non-feature columns (ids, labels) and the model's output:
    ``probability`` for classifiers, ``prediction`` for regressors."""
    keep = batch[[c for c in batch.columns if c not in set(model.feature_names_)]].reset_index(
        drop=True
    )
    if model.is_classifier:
        return keep.assign(probability=model.predict_proba(batch))
    return keep.assign(prediction=model.predict(batch))


def predictor_job(model: Any, rows: pd.DataFrame | str | Path, batch_size: int = 8192) -> BatchJob:
    """A :class:`~shopml.predict.base.Predictor` over every row of a frame, or of a Parquet file
    or folder of Parquet files (read where it lies, batch by batch, never whole)."""
    from shopml.predict.base import Predictor

    if not isinstance(model, Predictor):
        raise ValidationError(f"predictor_job needs a Predictor, got {type(model).__name__}")
    source = rows if isinstance(rows, pd.DataFrame) else Path(rows)
    columns = source.columns if isinstance(source, pd.DataFrame) else _parquet_columns(source)
    missing = [c for c in model.feature_names_ if c not in set(columns)]
    if missing:
        raise ValidationError(f"input rows lack the model's feature column(s) {missing[:10]}")
    return BatchJob(
        "predict", source, model, predict_rows, batch_size, {"model": type(model).__name__}
    )


def clv_rows(model: Any, batch: pd.DataFrame) -> pd.DataFrame:
    """P(alive), expected purchases, spend and CLV of the customers in ``batch`` (``user_id``
    rows); ``model`` is ``(CLV model, all orders, horizon_days, discount_rate)``."""
    clv, orders, horizon_days, discount_rate = model
    mine = orders[orders["user_id"].isin(batch["user_id"])]
    table = clv.predict(mine, horizon_days=horizon_days, discount_rate=discount_rate)
    return batch.merge(table, left_on="user_id", right_index=True, how="left")


def clv_job(
    model: Any, orders: pd.DataFrame, horizon_days: float = 90.0, discount_rate: float = 0.0,
    batch_size: int = 8192,
) -> BatchJob:
    """CLV of every customer with a completed order: ``orders`` has ``user_id, ts, value``.
    Every batch values its customers from their own orders, as of the last order day."""
    missing = {"user_id", "ts", "value"} - set(orders.columns)
    if missing:
        raise ValidationError(f"orders need columns user_id, ts, value; missing {sorted(missing)}")
    if len(orders) == 0:
        raise DataError("no completed orders of known customers to compute CLV from")
    orders = orders.assign(value=orders["value"].fillna(0.0), user_id=orders["user_id"].astype(str))
    rows = pd.DataFrame({"user_id": np.sort(orders["user_id"].unique())})
    state = (model, orders, float(horizon_days), float(discount_rate))
    return BatchJob("clv", rows, state, clv_rows, batch_size, {"model": type(model).__name__})


def _parquet_columns(path: Path) -> list[str]:
    """Column names of a Parquet file or folder, from the footers only."""
    import pyarrow.dataset as pds

    if not path.exists():
        raise DataError(f"no input rows at {path}")
    try:
        return list(pds.dataset(path, format="parquet").schema.names)
    except (pa.ArrowInvalid, OSError) as exc:
        raise DataError(f"cannot read {path} as Parquet: {exc}") from exc


__all__ = [
    "BatchJob",
    "BatchResult",
    "clv_job",
    "clv_rows",
    "predict_rows",
    "predictor_job",
    "recommend_job",
    "recommend_rows",
    "run_batch",
]
