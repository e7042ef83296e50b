#!/usr/bin/env bash
# The pinned uv in a private virtualenv, for machines without uv on PATH (needs python3-venv).
#   scripts/bootstrap-uv.sh PYTHON TOOLS_DIR UV_VERSION
set -euo pipefail
python=${1:?usage: bootstrap-uv.sh PYTHON TOOLS_DIR UV_VERSION} tools=${2:?} version=${3:?}
"$python" -m venv "$tools"
"$tools/bin/pip" install --quiet --disable-pip-version-check "uv==$version"
