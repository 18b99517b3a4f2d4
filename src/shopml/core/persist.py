"""Crash-safe writes: write to a temporary sibling, fsync, then rename into place.

A reader never sees a half-written file or folder: either the old content or the new. This is
the one module of shopml that calls ``fsync`` or renames into place: the registry, the batch
jobs and the service's feedback logs use its functions, so the rules (sync the data, rename,
sync the folder so that the name survives a crash too) live in one place.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any


def fsync_dir(path: str | Path) -> None:
    """Make the entries of folder ``path`` (new names, renames) durable."""
    if os.name != "posix":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def sync_fd(fd: int, data_only: bool = False) -> None:
    """Flush an open file descriptor to disk (``fdatasync`` with ``data_only``, where the OS
    has it: the size and data, not the times, which is all an append log needs)."""
    if data_only and hasattr(os, "fdatasync"):
        os.fdatasync(fd)
    else:
        os.fsync(fd)


def sync_file(path: str | Path) -> None:
    """Flush a written file to disk by its path."""
    with open(path, "rb") as fh:
        os.fsync(fh.fileno())


def rename_durably(src: str | Path, dst: str | Path) -> None:
    """Rename ``src`` to ``dst`` (failing if the OS refuses, e.g. ``dst`` is a non-empty
    folder) and sync ``dst``'s folder, so the new name survives a crash."""
    os.rename(src, dst)
    fsync_dir(Path(dst).parent)


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary sibling of ``path`` for the block to write (by name, e.g. a Parquet writer);
    synced and renamed onto ``path`` only if the block succeeds, removed otherwise."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        sync_file(tmp)
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
        fsync_dir(path.parent)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | Path, obj: Any) -> Path:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    return atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def atomic_write_parquet(path: str | Path, frame: Any) -> Path:
    """Write a pandas DataFrame to ``path`` as Parquet (no index), atomically."""
    import io

    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    return atomic_write_bytes(path, buf.getvalue())


def read_json(path: str | Path) -> Any:
    """Read a JSON file; never executes anything from it."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


@contextmanager
def atomic_directory(path: str | Path) -> Iterator[Path]:
    """Yield a temporary folder that is renamed to ``path`` only if the block succeeds.

    ``path`` must not exist yet. On any error the temporary folder is removed and ``path``
    is never created, so a crash never leaves a half-written directory behind.
    """
    path = Path(path)
    if path.exists():
        raise FileExistsError(f"{path} already exists")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent))
    try:
        yield tmp
        for f in tmp.rglob("*"):
            if f.is_file():
                sync_file(f)
        rename_durably(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
