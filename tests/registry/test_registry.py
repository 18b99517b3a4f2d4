import hashlib
import json
import multiprocessing as mp
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

import shopml
from shopml.core.errors import ShopMLError, ValidationError
from shopml.registry import (
    IntegrityError,
    ModelNotFoundError,
    ModelVersion,
    Registry,
    RegistryError,
)


def writer(weights: bytes = b"\x00\x01weights", extra: dict | None = None):
    """A write_fn storing an npz-like blob and a JSON config, as models do."""

    def write(folder: Path) -> None:
        (folder / "weights.npz").write_bytes(weights)
        (folder / "sub").mkdir()
        (folder / "sub" / "config.json").write_text(json.dumps(extra or {"k": 1}))

    return write


def version_dirs(reg: Registry, cap: str = "recommend", name: str = "ease") -> list[str]:
    d = reg.root / cap / name
    return sorted(p.name for p in d.iterdir() if p.name.startswith("v")) if d.exists() else []


def hidden_dirs(reg: Registry, cap: str = "recommend", name: str = "ease") -> list[str]:
    d = reg.root / cap / name
    return sorted(p.name for p in d.iterdir() if p.name.startswith(".") and p.is_dir())


def test_register_layout_meta_and_latest(tmp_path):
    reg = Registry(tmp_path / "artifacts")
    mv = reg.register(
        "recommend",
        "ease",
        writer(),
        config={"l2": np.float32(250.0), "k": np.int64(3), "path": Path("/x")},
        metrics={"ndcg@10": np.float64(0.41)},
        data_fingerprint="sha256:abc",
    )
    assert isinstance(mv, ModelVersion)
    assert mv.version == "v0001" and mv.number == 1
    assert mv.path == tmp_path / "artifacts" / "recommend" / "ease" / "v0001"
    assert sorted(p.name for p in mv.path.iterdir()) == ["meta.json", "sub", "weights.npz"]
    meta = json.loads((mv.path / "meta.json").read_text())
    assert meta == mv.meta
    assert meta["config"] == {"l2": 250.0, "k": 3, "path": "/x"}
    assert meta["metrics"] == {"ndcg@10": 0.41}
    assert meta["data_fingerprint"] == "sha256:abc"
    assert meta["shopml_version"] == shopml.__version__
    assert (meta["capability"], meta["name"], meta["version"]) == ("recommend", "ease", "v0001")
    assert meta["created"].endswith("+00:00")  # UTC ISO 8601
    assert meta["files"] == [
        {"path": "sub/config.json", "bytes": 8, "sha256": hashlib.sha256(b'{"k": 1}').hexdigest()},
        {
            "path": "weights.npz",
            "bytes": 9,
            "sha256": hashlib.sha256(b"\x00\x01weights").hexdigest(),
        },
    ]
    assert (mv.path.parent / "latest").read_text() == "v0001\n"
    assert hidden_dirs(reg) == []  # the temporary folder became the version

    mv2 = reg.register("recommend", "ease", writer(b"new"), metrics={"ndcg@10": 0.45})
    assert mv2.version == "v0002"
    assert reg.latest("recommend", "ease") == mv2
    assert reg.latest("recommend", "ease").metrics == {"ndcg@10": 0.45}
    assert [v.version for v in reg.versions("recommend", "ease")] == ["v0001", "v0002"]
    for ref in (1, "1", "v0001"):
        assert reg.get("recommend", "ease", ref).meta == meta
    assert reg.get("recommend", "ease", "latest") == mv2
    assert mv2.file("weights.npz").read_bytes() == b"new"
    assert mv2.config == {} and mv2.files == ["sub/config.json", "weights.npz"]


def test_list_gives_latest_of_every_model(tmp_path):
    reg = Registry(tmp_path)
    assert reg.list() == []
    reg.register("recommend", "ease", writer(), metrics={"ndcg@10": 0.4})
    reg.register("recommend", "ease", writer(), metrics={"ndcg@10": 0.5})
    reg.register("forecast", "ets", writer(), metrics={"mase": 0.9})
    (tmp_path / "recommend" / "empty").mkdir()  # a model folder with no version is not listed
    listed = reg.list()
    assert [(m.capability, m.name, m.version) for m in listed] == [
        ("forecast", "ets", "v0001"),
        ("recommend", "ease", "v0002"),
    ]
    summary = listed[1].summary()
    assert summary["metrics"] == {"ndcg@10": 0.5} and summary["version"] == "v0002"
    json.dumps([m.summary() for m in listed])  # JSON-ready


def test_write_fn_error_leaves_nothing_and_latest_unchanged(tmp_path):
    reg = Registry(tmp_path)
    reg.register("recommend", "ease", writer())

    def broken(folder: Path) -> None:
        (folder / "weights.npz").write_bytes(b"half")
        raise RuntimeError("out of memory")

    with pytest.raises(RuntimeError, match="out of memory"):
        reg.register("recommend", "ease", broken)
    assert version_dirs(reg) == ["v0001"] and hidden_dirs(reg) == []
    assert reg.latest("recommend", "ease").version == "v0001"
    assert reg.register("recommend", "ease", writer()).version == "v0002"


CRASH_MID_WRITE = """
import os, sys
from pathlib import Path
from shopml.registry import Registry

def write(folder):
    (folder / "weights.npz").write_bytes(b"half a model")
    os._exit(1)  # killed in the middle of writing

Registry(sys.argv[1]).register("recommend", "ease", write)
"""

CRASH_BEFORE_POINTER = """
import os, sys
from shopml.registry import Registry

def die(self, model_dir):
    os._exit(2)  # killed after the rename, before the latest pointer moved

Registry._point_latest = die
Registry(sys.argv[1]).register("recommend", "ease", lambda f: (f / "w.npz").write_bytes(b"x"))
"""


def run_python(code: str, *args: str) -> int:
    return subprocess.run([sys.executable, "-c", code, *args], timeout=120).returncode


def test_kill_mid_write_leaves_no_version_and_is_cleaned_up(tmp_path):
    reg = Registry(tmp_path)
    reg.register("recommend", "ease", writer())
    assert run_python(CRASH_MID_WRITE, str(tmp_path)) == 1
    assert version_dirs(reg) == ["v0001"]
    assert reg.latest("recommend", "ease").version == "v0001"
    leftovers = hidden_dirs(reg)
    assert len(leftovers) == 1 and leftovers[0].startswith(".incoming-")  # the crash was real
    mv = reg.register("recommend", "ease", writer(b"after"))
    assert mv.version == "v0002" and reg.latest("recommend", "ease") == mv
    assert hidden_dirs(reg) == []  # the dead process's temporary folder was removed


def test_kill_before_pointer_keeps_latest_then_next_register_moves_it(tmp_path):
    reg = Registry(tmp_path)
    reg.register("recommend", "ease", writer())
    assert run_python(CRASH_BEFORE_POINTER, str(tmp_path)) == 2
    # the new version is complete on disk, but latest still points at the old one
    assert [v.version for v in reg.versions("recommend", "ease")] == ["v0001", "v0002"]
    assert reg.latest("recommend", "ease").version == "v0001"
    assert reg.register("recommend", "ease", writer()).version == "v0003"
    assert reg.latest("recommend", "ease").version == "v0003"


def test_latest_without_pointer_falls_back_to_highest(tmp_path):
    reg = Registry(tmp_path)
    reg.register("recommend", "ease", writer())
    reg.register("recommend", "ease", writer())
    (tmp_path / "recommend" / "ease" / "latest").unlink()
    assert reg.latest("recommend", "ease").version == "v0002"
    (tmp_path / "recommend" / "ease" / "latest").write_text("v0009\n")
    with pytest.raises(RegistryError, match="points to 'v0009', which is not a stored version"):
        reg.latest("recommend", "ease")


def test_promote_rolls_back(tmp_path):
    reg = Registry(tmp_path)
    reg.register("recommend", "ease", writer())
    reg.register("recommend", "ease", writer())
    assert reg.promote("recommend", "ease", 1).version == "v0001"
    assert reg.latest("recommend", "ease").version == "v0001"
    assert reg.register("recommend", "ease", writer()).version == "v0003"
    assert reg.latest("recommend", "ease").version == "v0003"


def test_verify_detects_tampering(tmp_path):
    reg = Registry(tmp_path)
    mv = reg.register("recommend", "ease", writer())
    assert reg.verify(mv) is mv
    weights = mv.path / "weights.npz"
    original = weights.read_bytes()
    weights.write_bytes(b"\x00\x01weightz")  # same size, different bytes
    with pytest.raises(IntegrityError, match="weights.npz: sha256 differs"):
        reg.verify(reg.latest("recommend", "ease"))
    weights.write_bytes(original + b"!")
    with pytest.raises(IntegrityError, match=r"weights.npz: size 10 != 9"):
        reg.verify(mv)
    weights.write_bytes(original)
    (mv.path / "sub" / "config.json").unlink()
    (mv.path / "evil.py").write_text("print('hi')")
    with pytest.raises(IntegrityError) as err:
        reg.verify(mv)
    assert "sub/config.json: missing" in str(err.value)
    assert "evil.py: not listed in meta.json" in str(err.value)


def test_unknown_capability_name_version_errors(tmp_path):
    reg = Registry(tmp_path)
    with pytest.raises(ModelNotFoundError, match=r"no capability 'recommend' .*it has \[\]"):
        reg.latest("recommend", "ease")
    reg.register("recommend", "ease", writer())
    with pytest.raises(
        ModelNotFoundError, match=r"no capability 'forecast' .*it has \['recommend'\]"
    ):
        reg.versions("forecast", "ets")
    with pytest.raises(ModelNotFoundError, match=r"no model 'als' .*it has \['ease'\]"):
        reg.get("recommend", "als", 1)
    with pytest.raises(ModelNotFoundError, match=r"has no version v0007; it has \['v0001'\]"):
        reg.get("recommend", "ease", 7)
    with pytest.raises(ValidationError, match="not a version: 'seven'"):
        reg.get("recommend", "ease", "seven")
    with pytest.raises(ValidationError, match="versions start at 1"):
        reg.get("recommend", "ease", 0)
    with pytest.raises(ModelNotFoundError, match="has no file 'x.npz'"):
        reg.latest("recommend", "ease").file("x.npz")
    # every registry error is a ShopMLError; a lookup error is also a LookupError
    assert issubclass(ModelNotFoundError, ShopMLError) and issubclass(
        ModelNotFoundError, LookupError
    )
    assert issubclass(IntegrityError, RegistryError)


@pytest.mark.parametrize("bad", ["", "../up", ".hidden", "a/b", "x" * 200, 3])
def test_bad_names_are_refused(tmp_path, bad):
    with pytest.raises(ValidationError, match="capability must be"):
        Registry(tmp_path).register(bad, "ease", writer())
    with pytest.raises(ValidationError, match="name must be"):
        Registry(tmp_path).register("recommend", bad, writer())


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda f: (f / "model.pkl").write_bytes(b"x"), "'model.pkl' is a pickle-based format"),
        (lambda f: (f / "net.PT").write_bytes(b"x"), "'net.PT' is a pickle-based format"),
        (lambda f: (f / "meta.json").write_text("{}"), "must not write meta.json"),
        (lambda f: (f / "empty_dir").mkdir(), "wrote no files"),
        (lambda f: (f / "link").symlink_to("/etc/passwd"), "symbolic link 'link'"),
    ],
)
def test_unsafe_or_empty_models_are_refused(tmp_path, write, message):
    reg = Registry(tmp_path)
    with pytest.raises(ValidationError, match=message):
        reg.register("recommend", "ease", write)
    assert version_dirs(reg) == [] and hidden_dirs(reg) == []


def test_metadata_must_be_json(tmp_path):
    reg = Registry(tmp_path)
    with pytest.raises(ValidationError, match="metrics must be JSON-serialisable"):
        reg.register("recommend", "ease", writer(), metrics={"auc": float("nan")})
    with pytest.raises(ValidationError, match="config must be JSON-serialisable.*object"):
        reg.register("recommend", "ease", writer(), config={"f": object()})
    with pytest.raises(ValidationError, match="write_fn must be callable"):
        reg.register("recommend", "ease", "not a function")
    assert not (tmp_path / "recommend" / "ease").exists() or version_dirs(reg) == []


def _register_many(root: str, tag: str, count: int, barrier) -> list[str]:
    reg = Registry(root)
    barrier.wait(timeout=60)  # start together to maximise collisions
    out = []
    for i in range(count):
        mv = reg.register(
            "recommend",
            "ease",
            writer(f"{tag}-{i}".encode() * 1000),
            config={"tag": tag, "i": i},
        )
        out.append(mv.version)
    return out


def _process_worker(root: str, tag: str, count: int, barrier, queue) -> None:
    queue.put((tag, _register_many(root, tag, count, barrier)))


def check_concurrent_result(reg: Registry, results: dict[str, list[str]], total: int) -> None:
    got = [v for vs in results.values() for v in vs]
    assert sorted(got) == [f"v{i:04d}" for i in range(1, total + 1)]  # distinct, no gap
    for tag, vs in results.items():
        for i, v in enumerate(vs):
            mv = reg.verify(reg.get("recommend", "ease", v))
            assert mv.config == {"tag": tag, "i": i}  # meta belongs to the files beside it
            assert mv.file("weights.npz").read_bytes() == f"{tag}-{i}".encode() * 1000
    assert reg.latest("recommend", "ease").version == f"v{total:04d}"
    assert hidden_dirs(reg) == []


def test_concurrent_registration_from_two_processes(tmp_path):
    ctx = mp.get_context("spawn")  # a clean interpreter, as a second server process would be
    barrier, queue = ctx.Barrier(2), ctx.Queue()
    procs = [
        ctx.Process(target=_process_worker, args=(str(tmp_path), tag, 8, barrier, queue))
        for tag in ("a", "b")
    ]
    for p in procs:
        p.start()
    for p in procs:  # the results are a few short strings: joining before draining is safe
        p.join(timeout=120)
    for p in procs:
        if p.is_alive():
            p.terminate()
    assert [p.exitcode for p in procs] == [0, 0]
    results = dict(queue.get(timeout=10) for _ in procs)
    check_concurrent_result(Registry(tmp_path), results, 16)


def test_concurrent_registration_from_threads(tmp_path):
    barrier = threading.Barrier(4)
    results: dict[str, list[str]] = {}

    def run(tag: str) -> None:
        results[tag] = _register_many(str(tmp_path), tag, 5, barrier)

    threads = [threading.Thread(target=run, args=(t,)) for t in "abcd"]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    check_concurrent_result(Registry(tmp_path), results, 20)
