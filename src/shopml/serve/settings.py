"""What one server process needs to know: where the data and models are, keys and limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

from shopml.core.errors import ValidationError

#: environment variables read by :func:`ServeSettings.from_env` (how uvicorn workers get them)
ENV = {
    "workspace": "SHOPML_SERVE_WORKSPACE",
    "registry": "SHOPML_SERVE_REGISTRY",
    "api_key": "SHOPML_API_KEY",
    "read_key": "SHOPML_READ_KEY",
    "default_recommender": "SHOPML_SERVE_RECOMMENDER",
    "max_body_bytes": "SHOPML_SERVE_MAX_BODY",
    "bench_dir": "SHOPML_SERVE_BENCH_DIR",
    "search_max_batch": "SHOPML_SERVE_SEARCH_MAX_BATCH",
    "search_max_wait_ms": "SHOPML_SERVE_SEARCH_MAX_WAIT_MS",
}


@dataclass(frozen=True)
class ServeSettings:
    """Settings of the service (immutable; ``replace`` makes a changed copy).

    ``runtime_dir`` holds the feedback logs, their committed offsets and the reload generation
    (default ``<workspace>.serve/`` beside the workspace file).
    """

    workspace: Path
    registry: Path
    api_key: str | None = field(default=None, repr=False)
    read_key: str | None = field(default=None, repr=False)
    default_recommender: str | None = None
    max_body_bytes: int = 1_048_576
    max_feedback_events: int = 1000
    search_encoder: str | None = None  # None: lexical search only ("minilm" needs the nlp extra)
    search_max_batch: int = 16  # most concurrent queries encoded and re-ranked together
    search_max_wait_ms: float = 0.0  # how long a query that finds the engine idle waits for more
    overlay_items_per_user: int = 50
    overlay_max_users: int = 200_000
    pump_interval_s: float = 0.1
    feedback_commit_interval_s: float = 1.0
    feedback_wait_timeout_s: float = 10.0
    log_rotate_bytes: int = 64 * 1024 * 1024
    runtime_dir: Path | None = None
    bench_dir: Path | None = None  # benchmark results shown as leaderboards (None: none shown)

    def __post_init__(self) -> None:
        object.__setattr__(self, "workspace", Path(self.workspace))
        object.__setattr__(self, "registry", Path(self.registry))
        if self.bench_dir is not None:
            object.__setattr__(self, "bench_dir", Path(self.bench_dir))
        if self.runtime_dir is None:
            object.__setattr__(
                self, "runtime_dir", self.workspace.with_name(self.workspace.name + ".serve")
            )
        for key in ("api_key", "read_key"):
            value = getattr(self, key)
            if value is not None and len(value) < 8:
                raise ValidationError(f"{key} must have at least 8 characters (got {len(value)})")
        if self.max_body_bytes < 1024:
            raise ValidationError(f"max_body_bytes must be >= 1024, got {self.max_body_bytes}")
        if not 1 <= self.search_max_batch <= 1024:
            raise ValidationError(f"search_max_batch must be 1..1024, got {self.search_max_batch}")
        if not 0 <= self.search_max_wait_ms <= 1000:
            raise ValidationError(
                f"search_max_wait_ms must be 0..1000, got {self.search_max_wait_ms}"
            )

    @property
    def feedback_dir(self) -> Path:
        """Folder of the per-process feedback logs."""
        return Path(self.runtime_dir) / "feedback"

    def with_changes(self, **changes: object) -> ServeSettings:
        """A copy with some fields changed."""
        known = {f.name for f in fields(self)}
        unknown = set(changes) - known
        if unknown:
            raise ValidationError(f"unknown setting(s) {sorted(unknown)}; known: {sorted(known)}")
        return replace(self, **changes)

    def to_env(self) -> dict[str, str]:
        """Environment variables that :meth:`from_env` reads back (for worker processes)."""
        out = {}
        for attr, var in ENV.items():
            value = getattr(self, attr)
            if value is not None:
                out[var] = str(value)
        return out

    @classmethod
    def from_env(cls) -> ServeSettings:
        """Settings from the ``SHOPML_SERVE_*`` / ``SHOPML_*_KEY`` environment variables."""
        env = {attr: os.environ.get(var) for attr, var in ENV.items()}
        if not env["workspace"] or not env["registry"]:
            raise ValidationError(f"set {ENV['workspace']} and {ENV['registry']}")
        kwargs: dict[str, object] = {k: v for k, v in env.items() if v is not None}
        for key, kind in (("max_body_bytes", int), ("search_max_batch", int),
                          ("search_max_wait_ms", float)):  # fmt: skip
            if key in kwargs:
                kwargs[key] = kind(str(kwargs[key]))
        return cls(**kwargs)  # type: ignore[arg-type]
