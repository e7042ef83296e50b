#!/usr/bin/env python3
"""Print the sha256 of every Linux +cpu wheel of the pinned torch, as lines for pyproject.toml.

    scripts/torch-hashes.py [--index https://download.pytorch.org/whl/cpu]

Reads the index's simple page for torch (each link carries `#sha256=`); paste the lines into
[tool.datavisor.torch-cpu.wheels] when bumping the pin or adding a Python (the production image's 3.14 needs
its cp314 wheel there). Standard library only; needs the index to be reachable.
"""

from __future__ import annotations

import argparse
import re
import sys
import tomllib
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", default="https://download.pytorch.org/whl/cpu")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "scripts"))
    from lockinfo import torch_pin

    version = torch_pin(tomllib.loads((ROOT / "pyproject.toml").read_text()))
    with urllib.request.urlopen(f"{args.index.rstrip('/')}/torch/", timeout=60) as response:
        page = response.read().decode()
    lines = []
    for href in re.findall(r'href="([^"]+)"', page):
        name, _, fragment = urllib.parse.unquote(href.rsplit("/", 1)[-1]).partition("#")
        if name.startswith(f"torch-{version}+cpu-cp") and "linux" in name and fragment.startswith("sha256="):
            lines.append(f'"{name}" = "sha256:{fragment.removeprefix("sha256=")}"')
    if not lines:
        print(f"no torch-{version}+cpu Linux wheels with a sha256 on {args.index}", file=sys.stderr)
        return 1
    print("\n".join(sorted(set(lines))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
