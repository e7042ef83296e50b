#!/usr/bin/env bash
# `molecule test` of one scenario under ansible/molecule with the project's venv (ansible, molecule).
#   scripts/molecule.sh SCENARIO [molecule test arguments]
# Environment: VENV (default .venv), MOLECULE_IMAGE (the systemd test image, default datavisor-molecule:bookworm).
set -euo pipefail
cd "$(dirname "$0")/.."
scenario=${1:?usage: molecule.sh SCENARIO}
shift
export PATH=$PWD/${VENV:-.venv}/bin:$PATH
export MOLECULE_IMAGE=${MOLECULE_IMAGE:-datavisor-molecule:bookworm}
started=$(date +%s)
cd ansible
status=0
molecule test -s "$scenario" "$@" || status=$?
echo "molecule scenario $scenario: exit $status after $(( $(date +%s) - started )) s"
exit $status
