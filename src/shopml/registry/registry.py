"""Versioned model artifacts on disk, crash-safe and safe to load.

Layout::

    <root>/<capability>/<name>/v0001/        the model's files + meta.json
    <root>/<capability>/<name>/v0002/
    <root>/<capability>/<name>/latest        pointer file: "v0002"

``meta.json`` holds capability, name, version, created (UTC ISO 8601), shopml version, config,
data fingerprint, metrics and the list of files with their size and sha256.

Crash safety: ``write_fn`` writes into a hidden temporary folder beside the versions; meta.json is
added and everything fsynced, then the folder is renamed to its version name in one step. A crash
at any point before the rename leaves no version folder and ``latest`` untouched; abandoned
temporary folders of dead processes are removed by the next ``register`` on the same host.

Concurrency: the version number is claimed by the rename itself. Renaming a folder onto an
existing version folder (never empty: it holds meta.json) fails, and the registrant retries with
the next free number without rewriting the model, so concurrent registrants (threads or
processes, also on a shared file system) always get distinct versions. ``latest`` is rewritten
under an advisory ``flock`` to the highest complete version, so it only moves forward.

Safe loading: the registry itself only ever reads JSON. It refuses pickle-based files
(``.pkl``, ``.pickle``, ``.joblib``, ``.pt``, ``.pth``, ``.ckpt``): model loaders must use
safetensors, ``np.load(..., allow_pickle=False)``, LightGBM text models or JSON, so that loading
an artifact never executes code from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from shopml import __version__
from shopml.core.errors import ShopMLError, ValidationError
from shopml.core.persist import (
    atomic_write_text,
    fsync_dir,
    read_json,
    rename_durably,
    sync_file,
)

try:  # POSIX; elsewhere the latest pointer is updated without a lock
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = ["IntegrityError", "ModelNotFoundError", "ModelVersion", "Registry", "RegistryError"]

META = "meta.json"
LATEST = "latest"
UNSAFE_SUFFIXES = (".pkl", ".pickle", ".joblib", ".pt", ".pth", ".ckpt")
_LOCK = ".lock"
_INCOMING = ".incoming"
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,127}$")
_VERSION_RE = re.compile(r"^v(\d{4,})$")
_INCOMING_RE = re.compile(rf"^{re.escape(_INCOMING)}-(?P<host>.+)-(?P<pid>\d+)-[a-z0-9_]+$")
_MAX_TRIES = 10_000


class RegistryError(ShopMLError):
    """The registry cannot do what was asked (a broken pointer, no free version, ...)."""


class ModelNotFoundError(RegistryError, LookupError):
    """No such capability, model name or version in the registry."""


class IntegrityError(RegistryError):
    """A stored version's files do not match the sha256 sums recorded in its meta.json."""


@dataclass(frozen=True)
class ModelVersion:
    """One stored version of a model: its folder, version label (``v0003``) and meta.json."""

    path: Path
    version: str
    meta: dict[str, Any] = field(compare=False, repr=False)

    @property
    def capability(self) -> str:
        return self.meta["capability"]

    @property
    def name(self) -> str:
        return self.meta["name"]

    @property
    def number(self) -> int:
        """The version as an integer (``v0003`` -> 3)."""
        return _parse_version(self.version)

    @property
    def config(self) -> dict[str, Any]:
        return self.meta.get("config", {})

    @property
    def metrics(self) -> dict[str, Any]:
        return self.meta.get("metrics", {})

    @property
    def created(self) -> str:
        return self.meta["created"]

    @property
    def files(self) -> list[str]:
        """Relative paths of the model's files (meta.json excluded)."""
        return [f["path"] for f in self.meta.get("files", [])]

    def file(self, relpath: str) -> Path:
        """Absolute path of one of the model's files; unknown names raise."""
        if relpath not in self.files:
            raise ModelNotFoundError(
                f"{self.capability}/{self.name}/{self.version} has no file {relpath!r}; "
                f"files are {self.files}"
            )
        return self.path / relpath

    def summary(self) -> dict[str, Any]:
        """JSON-ready one-line description (for listings)."""
        return {
            "capability": self.capability,
            "name": self.name,
            "version": self.version,
            "created": self.created,
            "metrics": self.metrics,
            "path": str(self.path),
        }


class Registry:
    """Versioned model artifacts under ``root`` (see the module docstring for the layout)."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"Registry({str(self.root)!r})"

    # --- writing -----------------------------------------------------------------------------

    def register(
        self,
        capability: str,
        name: str,
        write_fn: Callable[[Path], object],
        *,
        config: dict[str, Any] | None = None,
        metrics: dict[str, Any] | None = None,
        data_fingerprint: Any = None,
    ) -> ModelVersion:
        """Store a new version: ``write_fn(folder)`` writes the model's files into ``folder``.

        The version becomes visible (and ``latest``) only once all of it is on disk. ``config``,
        ``metrics`` and ``data_fingerprint`` must be JSON-serialisable (NumPy scalars and arrays,
        paths and datetimes are converted; NaN and infinity are refused).
        """
        _check_name(capability, "capability")
        _check_name(name, "name")
        if not callable(write_fn):
            raise ValidationError(f"write_fn must be callable, got {type(write_fn).__name__}")
        base = {
            "capability": capability,
            "name": name,
            "config": _to_json(config or {}, "config"),
            "metrics": _to_json(metrics or {}, "metrics"),
            "data_fingerprint": _to_json(data_fingerprint, "data_fingerprint"),
            "shopml_version": __version__,
        }
        model_dir = self.root / capability / name
        model_dir.mkdir(parents=True, exist_ok=True)
        _remove_abandoned(model_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f"{_INCOMING}-{_host()}-{os.getpid()}-", dir=model_dir))
        try:
            write_fn(tmp)
            files = _inventory(tmp, f"{capability}/{name}")
            created = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds")
            version = self._publish(model_dir, tmp, {**base, "created": created, "files": files})
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        self._point_latest(model_dir)
        return version

    def promote(self, capability: str, name: str, version: str | int) -> ModelVersion:
        """Point ``latest`` at an existing version (e.g. to roll back)."""
        mv = self.get(capability, name, version)
        with _locked(mv.path.parent / _LOCK):
            atomic_write_text(mv.path.parent / LATEST, mv.version + "\n")
        return mv

    # --- reading -----------------------------------------------------------------------------

    def latest(self, capability: str, name: str) -> ModelVersion:
        """The version ``latest`` points at (the highest complete one if the pointer is absent)."""
        model_dir = self._model_dir(capability, name)
        pointer = model_dir / LATEST
        if pointer.exists():
            label = pointer.read_text(encoding="utf-8").strip()
            if not _VERSION_RE.match(label) or not (model_dir / label / META).is_file():
                raise RegistryError(f"{pointer} points to {label!r}, which is not a stored version")
            return self._load(model_dir, label)
        numbers = _complete_numbers(model_dir)
        if not numbers:
            raise ModelNotFoundError(f"{capability}/{name} has no complete version in {self.root}")
        return self._load(model_dir, _format_version(numbers[-1]))

    def get(self, capability: str, name: str, version: str | int) -> ModelVersion:
        """One version, given as ``3``, ``"3"``, ``"v0003"`` or ``"latest"``."""
        if version == LATEST:
            return self.latest(capability, name)
        model_dir = self._model_dir(capability, name)
        try:
            number = _parse_version(version)
        except ValueError as exc:
            raise ValidationError(str(exc)) from None
        label = _format_version(number)
        if not (model_dir / label / META).is_file():
            have = [_format_version(n) for n in _complete_numbers(model_dir)]
            raise ModelNotFoundError(f"{capability}/{name} has no version {label}; it has {have}")
        return self._load(model_dir, label)

    def versions(self, capability: str, name: str) -> list[ModelVersion]:
        """All complete versions of a model, oldest first."""
        model_dir = self._model_dir(capability, name)
        return [self._load(model_dir, _format_version(n)) for n in _complete_numbers(model_dir)]

    def list(self) -> list[ModelVersion]:
        """The latest version of every model, sorted by capability and name."""
        out = []
        if not self.root.is_dir():
            return out
        for cap_dir in sorted(p for p in self.root.iterdir() if _is_named_dir(p)):
            for model_dir in sorted(p for p in cap_dir.iterdir() if _is_named_dir(p)):
                if _complete_numbers(model_dir):
                    out.append(self.latest(cap_dir.name, model_dir.name))
        return out

    def verify(self, version: ModelVersion) -> ModelVersion:
        """Re-hash a version's files against meta.json; :class:`IntegrityError` on any change."""
        if not isinstance(version, ModelVersion):
            raise ValidationError(f"verify expects a ModelVersion, got {type(version).__name__}")
        listed = {f["path"]: f for f in version.meta.get("files", [])}
        present = {
            p.relative_to(version.path).as_posix()
            for p in version.path.rglob("*")
            if p.is_file() or p.is_symlink()
        } - {META}
        problems = [f"{p}: missing" for p in sorted(listed.keys() - present)]
        problems += [f"{p}: not listed in meta.json" for p in sorted(present - listed.keys())]
        for rel in sorted(listed.keys() & present):
            path = version.path / rel
            if path.is_symlink():
                problems.append(f"{rel}: is a symbolic link")
            elif path.stat().st_size != listed[rel]["bytes"]:
                problems.append(f"{rel}: size {path.stat().st_size} != {listed[rel]['bytes']}")
            elif _sha256(path) != listed[rel]["sha256"]:
                problems.append(f"{rel}: sha256 differs")
        if problems:
            raise IntegrityError(
                f"{version.capability}/{version.name}/{version.version} at {version.path} "
                f"failed verification: " + "; ".join(problems)
            )
        return version

    # --- internals ---------------------------------------------------------------------------

    def _model_dir(self, capability: str, name: str) -> Path:
        _check_name(capability, "capability")
        _check_name(name, "name")
        cap_dir = self.root / capability
        if not cap_dir.is_dir():
            have = (
                sorted(p.name for p in self.root.iterdir() if _is_named_dir(p))
                if self.root.is_dir()
                else []
            )
            raise ModelNotFoundError(
                f"no capability {capability!r} in registry {self.root}; it has {have}"
            )
        model_dir = cap_dir / name
        if not model_dir.is_dir():
            have = sorted(p.name for p in cap_dir.iterdir() if _is_named_dir(p))
            raise ModelNotFoundError(
                f"no model {name!r} under capability {capability!r} in {self.root}; it has {have}"
            )
        return model_dir

    def _load(self, model_dir: Path, label: str) -> ModelVersion:
        path = model_dir / label
        try:
            meta = read_json(path / META)
        except (OSError, ValueError) as exc:
            raise IntegrityError(f"cannot read {path / META}: {exc}") from exc
        return ModelVersion(path, label, meta)

    def _publish(self, model_dir: Path, tmp: Path, meta: dict[str, Any]) -> ModelVersion:
        """Rename ``tmp`` to the next free version folder; retry on a number taken meanwhile."""
        for _ in range(_MAX_TRIES):
            label = _format_version(_next_number(model_dir))
            meta["version"] = label
            atomic_write_text(tmp / META, json.dumps(meta, indent=2, sort_keys=True) + "\n")
            target = model_dir / label
            try:
                rename_durably(tmp, target)
            except OSError:
                if target.exists() or target.is_symlink():
                    continue  # another registrant took this number first
                raise
            return ModelVersion(target, label, meta)
        raise RegistryError(f"no free version number in {model_dir} after {_MAX_TRIES} tries")

    def _point_latest(self, model_dir: Path) -> None:
        # under the lock, read-highest-then-write is atomic, so latest only ever moves forward
        with _locked(model_dir / _LOCK):
            numbers = _complete_numbers(model_dir)
            atomic_write_text(model_dir / LATEST, _format_version(numbers[-1]) + "\n")


# --- helpers -------------------------------------------------------------------------------


def _check_name(value: Any, what: str) -> None:
    if not isinstance(value, str) or not _NAME_RE.match(value):
        raise ValidationError(
            f"{what} must be 1-128 letters, digits, '_', '-' or '.' starting with a letter or "
            f"digit, got {value!r}"
        )


def _format_version(number: int) -> str:
    return f"v{number:04d}"


def _parse_version(version: Any) -> int:
    if isinstance(version, bool):
        raise ValueError(f"not a version: {version!r}")
    if isinstance(version, int | np.integer):
        number = int(version)
    elif isinstance(version, str) and (m := _VERSION_RE.match(version)):
        number = int(m.group(1))
    elif isinstance(version, str) and version.isdigit():
        number = int(version)
    else:
        raise ValueError(f"not a version: {version!r} (expected 3, '3', 'v0003' or 'latest')")
    if number < 1:
        raise ValueError(f"versions start at 1, got {version!r}")
    return number


def _is_named_dir(path: Path) -> bool:
    return path.is_dir() and bool(_NAME_RE.match(path.name))


def _taken_numbers(model_dir: Path) -> list[int]:
    """Numbers of every entry named like a version (complete or not), so none is reused."""
    return sorted(int(m.group(1)) for p in model_dir.iterdir() if (m := _VERSION_RE.match(p.name)))


def _complete_numbers(model_dir: Path) -> list[int]:
    return [
        n for n in _taken_numbers(model_dir) if (model_dir / _format_version(n) / META).is_file()
    ]


def _next_number(model_dir: Path) -> int:
    taken = _taken_numbers(model_dir)
    return taken[-1] + 1 if taken else 1


def _inventory(folder: Path, what: str) -> list[dict[str, Any]]:
    """Check what ``write_fn`` wrote and record each file's size and sha256 (fsyncing it)."""
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            raise ValidationError(f"{what}: write_fn wrote a symbolic link {rel!r}; write files")
        if not path.is_file():
            continue
        if rel == META:
            raise ValidationError(f"{what}: write_fn must not write {META}; the registry writes it")
        if path.name.lower().endswith(UNSAFE_SUFFIXES):
            raise ValidationError(
                f"{what}: {rel!r} is a pickle-based format, which can run code when loaded; "
                "save weights as safetensors or .npz, LightGBM models as text, the rest as JSON"
            )
        with open(path, "rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
        sync_file(path)
        files.append({"path": rel, "bytes": path.stat().st_size, "sha256": digest})
    if not files:
        raise ValidationError(f"{what}: write_fn wrote no files into {folder}")
    for sub in sorted({p.parent for p in folder.rglob("*")}):
        fsync_dir(sub)
    return files


def _sha256(path: Path) -> str:
    with open(path, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _to_json(obj: Any, what: str) -> Any:
    """``obj`` as plain JSON values (a round trip), or a ValidationError naming ``what``."""

    def default(value: Any) -> Any:
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, np.ndarray):
            return value.tolist()
        if isinstance(value, Path):
            return str(value)
        if isinstance(value, dt.datetime | dt.date):
            return value.isoformat()
        raise TypeError(f"{type(value).__name__} is not JSON-serialisable")

    try:
        return json.loads(json.dumps(obj, default=default, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise ValidationError(f"{what} must be JSON-serialisable without NaN/inf: {exc}") from None




@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock, released by the OS even if the holder dies."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _host() -> str:
    return re.sub(r"[^A-Za-z0-9.]", "_", socket.gethostname()) or "host"


def _remove_abandoned(model_dir: Path) -> None:
    """Delete temporary folders left by crashed registrants of this host (their pid is gone)."""
    if os.name != "posix":  # os.kill(pid, 0) is not a liveness probe elsewhere
        return
    host = _host()
    for path in model_dir.iterdir():
        m = _INCOMING_RE.match(path.name)
        if not m or m.group("host") != host or _alive(int(m.group("pid"))):
            continue
        shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
