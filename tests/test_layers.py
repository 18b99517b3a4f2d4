"""The import layers of pyproject.toml hold (import-linter), and the contract catches a breach."""

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _lint_imports() -> str:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent)) or shutil.which(
        "lint-imports"
    )
    if exe is None:
        pytest.fail("lint-imports is missing: pip install -e '.[dev]' (import-linter)")
    return exe


def _run(args: list[str], cwd: Path, pythonpath: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(pythonpath)}
    return subprocess.run(
        [_lint_imports(), "--no-cache", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_shopml_keeps_its_layers():
    done = _run([], ROOT, ROOT / "src")
    assert done.returncode == 0, f"an import breaks the layers:\n{done.stdout}\n{done.stderr}"


def _contract() -> dict:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (layers,) = [c for c in config["contracts"] if c["id"] == "layers"]
    return layers


def _fake_package(tmp_path: Path, upward: tuple[str, str] | None) -> Path:
    """A package ``fakeshop`` with one module per required layer module of shopml's contract,
    each importing the layer below it; ``upward`` adds an import from a lower layer up."""
    layers = [
        [m.strip() for m in layer.split("|") if not m.strip().startswith("(")]
        for layer in _contract()["layers"]
    ]
    pkg = tmp_path / "fakeshop"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    for i, layer in enumerate(layers):
        below = layers[i + 1] if i + 1 < len(layers) else []
        for name in layer:
            lines = [f"import fakeshop.{b}\n" for b in below]
            if upward is not None and upward[0] == name:
                lines.append(f"import fakeshop.{upward[1]}\n")
            (pkg / f"{name}.py").write_text("".join(lines))
    return pkg


def _config_for_fake(tmp_path: Path) -> Path:
    layers = _contract()["layers"]
    quoted = ", ".join(f'"{layer}"' for layer in layers)
    path = tmp_path / "fake.toml"
    path.write_text(
        '[tool.importlinter]\nroot_package = "fakeshop"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'id = "layers"\nname = "fake layers"\ntype = "layers"\n'
        f'containers = ["fakeshop"]\nlayers = [{quoted}]\n'
    )
    return path


@pytest.mark.parametrize(
    "upward",
    [
        ("core", "data"),  # the foundation reaching up
        ("evaluation", "recommend"),  # protocols importing a capability
        ("recommend", "predict"),  # two capabilities coupled without a declared interface
        ("predict", "serve"),  # a capability importing the service
        ("distributed", "benchmarks"),  # the old benchmarks <-> distributed cycle
    ],
)
def test_the_contract_catches_an_upward_import(tmp_path, upward):
    _fake_package(tmp_path, None)
    config = _config_for_fake(tmp_path)
    clean = _run([str(config)], tmp_path, tmp_path)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    shutil.rmtree(tmp_path / "fakeshop")
    _fake_package(tmp_path, upward)
    broken = _run([str(config)], tmp_path, tmp_path)
    assert broken.returncode != 0
    assert f"fakeshop.{upward[0]} is not allowed to import fakeshop.{upward[1]}" in broken.stdout
