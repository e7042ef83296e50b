"""scripts/lockinfo.py, the one place every install (make venv, Dockerfile.backend, the role, the wheelhouse)
reads torch's exclusions and hashes from: run as those callers run it, on the real uv.lock and pyproject.toml.
The installs themselves are proven by `make venv`, `make image-test` and the Molecule scenarios.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCKINFO = ROOT / "scripts" / "lockinfo.py"


def lockinfo(*args: str, project: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(LOCKINFO), *args, "--project", str(project)], capture_output=True, text=True, timeout=60
    )


def test_exclusions_are_torch_and_what_only_its_cuda_build_needs() -> None:
    excluded = lockinfo("no-install").stdout.split()
    assert excluded[0] == "torch"
    assert "triton" in excluded and any(name.startswith("nvidia-") for name in excluded)
    # torch's dependencies on every platform come from the lock and stay installed.
    for kept in ("filelock", "fsspec", "jinja2", "networkx", "sympy", "typing-extensions"):
        assert kept not in excluded
    # Nothing that stays installed needs an excluded package: leaving them out breaks nothing else.
    lock = tomllib.loads((ROOT / "uv.lock").read_text())
    for package in lock["package"]:
        if package["name"] in excluded:
            continue
        needs = {edge["name"] for edge in package.get("dependencies", [])}
        for deps in package.get("optional-dependencies", {}).values():
            needs |= {edge["name"] for edge in deps}
        assert not needs & (set(excluded) - {"torch"}), package["name"]
    flags = lockinfo("no-install-flags").stdout.split()
    assert flags == [word for name in excluded for word in ("--no-install-package", name)]


def test_torch_requirement_is_the_cpu_build_with_every_recorded_hash() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    recorded = set(pyproject["tool"]["datavisor"]["torch-cpu"]["wheels"].values())
    line = lockinfo("torch-requirement").stdout.split()
    assert line[0].startswith("torch==") and line[0].endswith("+cpu")
    assert {word.removeprefix("--hash=") for word in line[1:]} == recorded
    assert "cp311" in lockinfo("torch-abis").stdout.split()


def test_a_pin_bumped_without_hashes_is_refused(tmp_path: Path) -> None:
    shutil.copy(ROOT / "uv.lock", tmp_path / "uv.lock")
    text = (ROOT / "pyproject.toml").read_text()
    pin = next(line for line in text.splitlines() if line.strip().startswith('"torch=='))
    (tmp_path / "pyproject.toml").write_text(text.replace(pin, '    "torch==9.9.9",'))
    result = lockinfo("torch-requirement", project=tmp_path)
    assert result.returncode == 1
    assert "pins torch==9.9.9 but [tool.datavisor.torch-cpu] records no hash" in result.stderr


def test_a_torch_wheel_of_unknown_digest_is_refused(tmp_path: Path) -> None:
    wheel = tmp_path / "torch-2.13.0+cpu-cp311-cp311-manylinux_2_28_x86_64.whl"
    wheel.write_bytes(b"not the recorded wheel")
    result = lockinfo("check-torch-wheel", str(wheel))
    assert result.returncode == 1
    assert "is not recorded in pyproject.toml" in result.stderr
