#!/usr/bin/env bash
# torch +cpu of the pinned version into an environment whose other packages came from the lock, then proof
# that the environment is CPU-only. Called by scripts/install.sh and Dockerfile.backend.
#
#   scripts/install-torch.sh VENV [--torch-wheels DIR | --torch-index URL] [--project DIR]
#
# --no-deps: torch's dependencies are the lock's (already installed). --require-hashes: the wheel must have
# one of the sha256 recorded in pyproject.toml [tool.datavisor.torch-cpu]. Environment: UV, PYTHON_FOR_LOCK.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
UV=${UV:-uv}
venv=${1:?usage: install-torch.sh VENV [--torch-wheels DIR | --torch-index URL] [--project DIR]}
shift
project=$(cd "$here/.." && pwd)
source_flags=(--index-url https://download.pytorch.org/whl/cpu)
while [ $# -gt 0 ]; do
    case $1 in
        --torch-wheels) source_flags=(--no-index --find-links "$2"); shift ;;
        --torch-index) source_flags=(--index-url "$2"); shift ;;
        --project) project=$(cd "$2" && pwd); shift ;;
        *) echo "install-torch.sh: unknown argument $1" >&2; exit 2 ;;
    esac
    shift
done
lock_python=${PYTHON_FOR_LOCK:-$venv/bin/python}

requirement=$(mktemp)
trap 'rm -f "$requirement"' EXIT
"$lock_python" "$here/lockinfo.py" torch-requirement --project "$project" >"$requirement"
"$UV" pip install --quiet --python "$venv/bin/python" --no-deps --require-hashes "${source_flags[@]}" -r "$requirement"

# shellcheck disable=SC2046 # one name per word
"$venv/bin/python" - $("$lock_python" "$here/lockinfo.py" no-install --project "$project") <<'PY'
import importlib.metadata as md, re, sys, torch
excluded = {name for name in sys.argv[1:] if name != "torch"}
found = sorted(d.metadata["Name"] for d in md.distributions()
               if re.sub(r"[-_.]+", "-", d.metadata["Name"].lower()) in excluded)
if torch.version.cuda or found:
    sys.exit(f"CUDA in {sys.prefix}: torch.version.cuda={torch.version.cuda} packages={found}")
print(f"{sys.prefix}: torch {torch.__version__}, CPU only, no CUDA packages")
PY
