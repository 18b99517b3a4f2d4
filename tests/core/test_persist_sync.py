"""The sync and rename helpers of core.persist that the registry, batch jobs and feedback use."""

import os

import pytest

from shopml.core.persist import atomic_path, fsync_dir, rename_durably, sync_fd, sync_file


def test_atomic_path_publishes_only_a_finished_file(tmp_path):
    out = tmp_path / "sub" / "result.parquet"
    with atomic_path(out) as tmp:
        assert tmp.parent == out.parent and tmp != out
        tmp.write_bytes(b"done")
        assert not out.exists()  # nothing visible before the block ends
    assert out.read_bytes() == b"done"
    assert [p.name for p in out.parent.iterdir()] == ["result.parquet"]


def test_atomic_path_leaves_the_old_file_on_failure(tmp_path):
    out = tmp_path / "result.parquet"
    out.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("writer failed")
    assert out.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["result.parquet"]


def test_rename_durably_and_syncs(tmp_path):
    src, dst = tmp_path / ".a.new", tmp_path / "a"
    src.write_text("x")
    rename_durably(src, dst)
    assert dst.read_text() == "x" and not src.exists()
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "f").write_text("y")
    with pytest.raises(OSError):  # a non-empty target folder is never replaced
        rename_durably(tmp_path / "a", tmp_path / "folder")
    sync_file(dst)
    fsync_dir(tmp_path)
    fd = os.open(dst, os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, b"z")
        sync_fd(fd, data_only=True)
        sync_fd(fd)
    finally:
        os.close(fd)
    assert dst.read_text() == "xz"
