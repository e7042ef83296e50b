#!/usr/bin/env python3
"""What the install path needs to know from uv.lock and pyproject.toml (standard library only).

    scripts/lockinfo.py no-install [--project DIR]        torch and every CUDA-only package, one per line
    scripts/lockinfo.py no-install-flags [--project DIR]  the same as `--no-install-package NAME ...` for uv sync
    scripts/lockinfo.py torch-requirement [--project DIR] torch==X+cpu --hash=sha256:... (every recorded wheel)
    scripts/lockinfo.py torch-abis [--project DIR]        the CPython ABIs (cp311 ...) with a recorded +cpu wheel
    scripts/lockinfo.py check-torch-wheel FILE [--project DIR]   exit 1 unless FILE's sha256 is recorded

CUDA-only packages are read from the lock, not from a name pattern: torch's dependencies that exist only
on Linux (PyPI's torch wheel is the CUDA build there) and everything reachable from them that nothing else
in the lock needs. The +cpu build of the same torch version needs none of them.

The +cpu wheels' sha256 are recorded in pyproject.toml, [tool.datavisor.torch-cpu], next to the torch pin;
a bump of the pin without new hashes is refused here, so no install ever takes torch unchecked.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
import tomllib
from pathlib import Path

LINUX_ONLY = re.compile(r"sys_platform\s*==\s*'linux'")
WHEEL_NAME = re.compile(r"^torch-(?P<version>[^-]+)-(?P<python>cp\d+)-(?P<abi>cp\d+t?)-(?P<platform>.+)\.whl$")


class LockError(Exception):
    pass


def load(project: Path) -> tuple[dict, dict]:
    return (
        tomllib.loads((project / "uv.lock").read_text()),
        tomllib.loads((project / "pyproject.toml").read_text()),
    )


def _edges(package: dict) -> list[dict]:
    edges = list(package.get("dependencies", []))
    for deps in package.get("optional-dependencies", {}).values():
        edges += deps
    for deps in package.get("dev-dependencies", {}).values():
        edges += deps
    return edges


def no_install(lock: dict) -> list[str]:
    packages: dict[str, list[dict]] = {}
    for package in lock["package"]:
        packages.setdefault(package["name"], []).append(package)
    if "torch" not in packages:
        raise LockError("uv.lock has no torch package")
    seeds = {
        edge["name"]
        for torch in packages["torch"]
        for edge in torch.get("dependencies", [])
        if LINUX_ONLY.search(edge.get("marker", ""))
    }

    def reach(starts: set[str], blocked: set[str]) -> set[str]:
        seen: set[str] = set()
        todo = [name for name in starts if name not in blocked]
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            for package in packages.get(name, []):
                todo += [edge["name"] for edge in _edges(package) if edge["name"] not in blocked]
        return seen

    cuda = reach(seeds, set())
    # Everything else in the lock, walked without entering the CUDA seeds: what it reaches stays installed.
    others = reach({name for name in packages if name not in cuda and name != "torch"}, seeds)
    return ["torch", *sorted(cuda - others)]


def torch_pin(pyproject: dict) -> str:
    for requirement in pyproject["project"]["dependencies"]:
        match = re.fullmatch(r"\s*torch\s*==\s*([0-9][0-9.]*)\s*", requirement)
        if match:
            return match.group(1)
    raise LockError("pyproject.toml pins no torch==X.Y.Z")


def torch_wheels(pyproject: dict) -> dict[str, str]:
    """Recorded +cpu wheels of the pinned torch: file name -> sha256."""
    version = torch_pin(pyproject)
    recorded = pyproject.get("tool", {}).get("datavisor", {}).get("torch-cpu", {}).get("wheels", {})
    wheels = {}
    for name, digest in recorded.items():
        match = WHEEL_NAME.match(name)
        if not match or not re.fullmatch(r"sha256:[0-9a-f]{64}", digest):
            raise LockError(f"pyproject.toml [tool.datavisor.torch-cpu] wheels: bad entry {name} = {digest}")
        if match.group("version") == f"{version}+cpu":
            wheels[name] = digest
    if not wheels:
        raise LockError(
            f"pyproject.toml pins torch=={version} but [tool.datavisor.torch-cpu] records no hash of a "
            f"torch-{version}+cpu wheel: add the sha256 of each +cpu wheel the installs use"
        )
    return wheels


def torch_requirement(pyproject: dict) -> str:
    hashes = " ".join(f"--hash={digest}" for digest in sorted(set(torch_wheels(pyproject).values())))
    return f"torch=={torch_pin(pyproject)}+cpu {hashes}"


def torch_abis(pyproject: dict) -> list[str]:
    return sorted({WHEEL_NAME.match(name).group("abi") for name in torch_wheels(pyproject)})  # type: ignore[union-attr]


def check_torch_wheel(pyproject: dict, path: Path) -> None:
    digest = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
    if digest not in torch_wheels(pyproject).values():
        raise LockError(f"{path}: sha256 {digest} is not recorded in pyproject.toml [tool.datavisor.torch-cpu]")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "command", choices=["no-install", "no-install-flags", "torch-requirement", "torch-abis", "check-torch-wheel"]
    )
    parser.add_argument("file", nargs="?", type=Path)
    parser.add_argument("--project", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    try:
        lock, pyproject = load(args.project)
        if args.command == "no-install":
            print("\n".join(no_install(lock)))
        elif args.command == "no-install-flags":
            print(" ".join(f"--no-install-package {name}" for name in no_install(lock)))
        elif args.command == "torch-requirement":
            print(torch_requirement(pyproject))
        elif args.command == "torch-abis":
            print("\n".join(torch_abis(pyproject)))
        else:
            if args.file is None:
                parser.error("check-torch-wheel needs a wheel file")
            check_torch_wheel(pyproject, args.file)
    except (LockError, OSError, tomllib.TOMLDecodeError) as error:
        print(f"lockinfo: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
