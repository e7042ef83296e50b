#!/usr/bin/env bash
# Every runtime wheel of the release for hosts without internet: DIST/wheelhouse/ and DIST/wheelhouse.tar
# (datavisor_install_source: wheelhouse). The set is DIST/requirements.txt (`make dist`: uv.lock without
# torch and the CUDA-only packages, hashed) plus torch +cpu with its recorded sha256: what
# scripts/install.sh --wheelhouse installs.
#
#   scripts/wheelhouse.sh [DIST]
# Environment: PIP (a pip to download with), TORCH_WHEELS (a directory with the +cpu wheel; else
# TORCH_INDEX), WHEEL_PYTHON (target CPython, default 3.11: Debian 12). The wheels are for that CPython on
# x86_64 glibc Linux whatever the controller runs; the role refuses a host whose Python differs.
set -euo pipefail
cd "$(dirname "$0")/.."
dist=${1:-dist}
PIP=${PIP:-pip}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
WHEEL_PYTHON=${WHEEL_PYTHON:-3.11}
abi=cp${WHEEL_PYTHON/./}
wheelhouse=$dist/wheelhouse
target=(--only-binary :all: --python-version "$WHEEL_PYTHON" --implementation cp --abi "$abi"
        --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64)
pip_download() { "$PIP" download --quiet --disable-pip-version-check --require-hashes "${target[@]}" -d "$wheelhouse" "$@"; }

[ -f "$dist/requirements.txt" ] && [ -f "$dist/torch-requirement.txt" ] || { echo "wheelhouse.sh: run make dist first" >&2; exit 1; }
mkdir -p "$wheelhouse"
pip_download -r "$dist/requirements.txt"
torch_wheel=$(ls "${TORCH_WHEELS:-/nonexistent}"/torch-*+cpu-"$abi"-"$abi"-*x86_64.whl 2>/dev/null | head -1 || true)
if [ -n "$torch_wheel" ]; then
    python3 scripts/lockinfo.py check-torch-wheel "$torch_wheel"
    cp -u "$torch_wheel" "$wheelhouse/"
else
    pip_download --no-deps --index-url "$TORCH_INDEX" -r "$dist/torch-requirement.txt"
fi
tar -C "$wheelhouse" -cf "$dist/wheelhouse.tar" .
du -sh "$dist/wheelhouse.tar"
