#!/usr/bin/env bash
# The release the Ansible role installs (native runtime), in DIST (default dist/):
#   datavisor-<version>-py3-none-any.whl   the project (app/, plugins/, the browser app when built)
#   plugins/                               the plugins shipped with it, unpacked
#   requirements.txt                       uv.lock's runtime set without torch/CUDA, hashed (for pip download)
#   torch-requirement.txt                  torch==<pin>+cpu with the recorded sha256
#   install/                               what runs on the host: pyproject.toml, uv.lock, the install
#                                          scripts and the uv binary (the same path as `make venv`)
# Environment: UV (the uv binary).
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
UV=${UV:-uv}
mkdir -p "$dist"
rm -rf "$dist"/datavisor-*.whl "$dist/plugins" "$dist/install"
"$UV" build --wheel --quiet --out-dir "$dist"
scripts/install.sh --requirements "$dist/requirements.txt"
python3 scripts/lockinfo.py torch-requirement >"$dist/torch-requirement.txt"
python3 - "$dist" <<'PY'
import pathlib, sys, zipfile
dist = pathlib.Path(sys.argv[1])
(wheel,) = dist.glob("datavisor-*.whl")
with zipfile.ZipFile(wheel) as zf:
    zf.extractall(dist, [name for name in zf.namelist() if name.startswith("plugins/")])
PY
mkdir -p "$dist/install/scripts"
cp pyproject.toml uv.lock "$dist/install/"
cp scripts/install.sh scripts/install-torch.sh scripts/lockinfo.py "$dist/install/scripts/"
cp "$(command -v "$UV")" "$dist/install/uv"
echo "dist: $(cd "$dist" && ls -d datavisor-*.whl plugins requirements.txt torch-requirement.txt install | tr '\n' ' ')"
