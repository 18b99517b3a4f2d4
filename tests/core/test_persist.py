import subprocess
import sys

import pytest

from shopml.core.persist import atomic_directory, atomic_write_json, atomic_write_text, read_json


def test_atomic_write_replaces_whole_file(tmp_path):
    p = tmp_path / "a" / "x.json"
    atomic_write_json(p, {"v": 1})
    atomic_write_json(p, {"v": 2})
    assert read_json(p) == {"v": 2}
    assert [f.name for f in p.parent.iterdir()] == ["x.json"]  # no temp files left


def test_atomic_directory_error_leaves_nothing(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with atomic_directory(target) as tmp:
            (tmp / "weights.npz").write_bytes(b"123")
            raise RuntimeError("crash")
    assert not target.exists() and list(tmp_path.iterdir()) == []
    with atomic_directory(target) as tmp:
        (tmp / "weights.npz").write_bytes(b"123")
    assert (target / "weights.npz").read_bytes() == b"123"
    with pytest.raises(FileExistsError):
        with atomic_directory(target):
            pass


def test_kill_mid_write_keeps_old_content(tmp_path):
    p = tmp_path / "x.txt"
    atomic_write_text(p, "old")
    code = (
        "import os, shopml.core.persist as P\n"
        "orig = os.replace\n"
        "def die(*a): os._exit(9)\n"
        "os.replace = die\n"
        f"P.atomic_write_text({str(p)!r}, 'new' * 1000)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code])
    assert proc.returncode == 9
    assert p.read_text() == "old"
