#!/usr/bin/env bash
# DataVisor's Python environment from uv.lock: `make venv` and the Ansible role (native runtime) run this;
# Dockerfile.backend runs the same two steps itself (uv sync --frozen, then scripts/install-torch.sh).
#
#   scripts/install.sh --venv DIR [--python PY] [--project DIR] [--dev] [--no-project]
#                      [--wheelhouse DIR | --torch-wheels DIR | --torch-index URL]
#   scripts/install.sh --requirements FILE [--project DIR]   the locked set (no torch/CUDA), hashed, for pip
#
# Index install (default): `uv sync --frozen --no-default-groups --no-editable` (every hash checked
# against the lock) with --no-install-package for torch and each CUDA-only package (scripts/lockinfo.py
# reads their names from the lock), then torch +cpu, --no-deps and hash-checked (scripts/install-torch.sh).
# Once torch is in the environment every later sync is --inexact, or uv would remove it (and a server
# running from the environment would lose it).
# Wheelhouse install (--wheelhouse DIR, no index at all): the same set, exported from the lock with the
# same exclusions plus the torch line, through `uv pip sync --require-hashes` from DIR (`uv sync --frozen`
# downloads the lock's URLs and cannot take a directory of wheels).
#
#   --dev         with the dev and deploy groups, the project editable (make run serves the working tree)
#   --no-project  dependencies only (the role installs the release wheel made by `make dist`)
# Environment: UV (default: uv on PATH).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
UV=${UV:-uv}
project=$(cd "$here/.." && pwd)
venv='' python=python3 dev=0 with_project=1 wheelhouse='' requirements_out=''
torch_flags=()

while [ $# -gt 0 ]; do
    case $1 in
        --venv) venv=$2; shift ;;
        --python) python=$2; shift ;;
        --project) project=$(cd "$2" && pwd); shift ;;
        --dev) dev=1 ;;
        --no-project) with_project=0 ;;
        --wheelhouse) wheelhouse=$2; shift ;;
        --torch-wheels | --torch-index) torch_flags=("$1" "$2"); shift ;;
        --requirements) requirements_out=$2; shift ;;
        *) echo "install.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done

export UV_PYTHON_DOWNLOADS=never
lock_python=$python
command -v "$lock_python" >/dev/null || lock_python=python3
export PYTHON_FOR_LOCK=$lock_python
lockinfo() { "$lock_python" "$here/lockinfo.py" "$@" --project "$project"; }
groups=(--no-default-groups)
[ "$dev" = 1 ] && groups+=(--group dev --group deploy)

export_requirements() {
    # shellcheck disable=SC2046 # one flag per word
    "$UV" export --project "$project" --frozen "${groups[@]}" --no-emit-project \
        $(lockinfo no-install | sed 's/^/--no-emit-package /') \
        --format requirements-txt --no-header --quiet --output-file "$1"
}

if [ -n "$requirements_out" ]; then
    export_requirements "$requirements_out"
    exit 0
fi
[ -n "$venv" ] || { echo "install.sh: --venv DIR is required" >&2; exit 2; }

fresh=0
if [ ! -x "$venv/bin/python" ]; then
    "$UV" venv --quiet --python "$python" "$venv"
    fresh=1
fi

if [ -n "$wheelhouse" ]; then
    requirements=$(mktemp)
    trap 'rm -f "$requirements"' EXIT
    export_requirements "$requirements"
    lockinfo torch-requirement >>"$requirements"
    "$UV" pip sync --quiet --python "$venv/bin/python" --require-hashes --no-index --find-links "$wheelhouse" \
        "$requirements"
    if [ "$with_project" = 1 ]; then
        "$UV" pip install --quiet --python "$venv/bin/python" --no-deps --no-index --find-links "$wheelhouse" \
            "$project"
    fi
    "$here/install-torch.sh" "$venv" --torch-wheels "$wheelhouse" --project "$project"
    exit 0
fi

flags=("${groups[@]}")
[ "$with_project" = 1 ] || flags+=(--no-install-project)
[ "$dev" = 1 ] || flags+=(--no-editable)
[ "$fresh" = 1 ] || flags+=(--inexact)
# shellcheck disable=SC2046 # one flag per word
UV_PROJECT_ENVIRONMENT=$venv "$UV" sync --quiet --project "$project" --frozen --python "$venv/bin/python" \
    "${flags[@]}" $(lockinfo no-install-flags)
"$here/install-torch.sh" "$venv" "${torch_flags[@]}" --project "$project"
