#!/usr/bin/env bash
# Build the browser app with Debian 12's own Node.js (nodejs 18.x, npm 9.x), as the README's set-up on a
# fresh Debian 12 does, inside the Debian 12 test image:
#   scripts/ui-node18.sh [IMAGE]        (default $MOLECULE_IMAGE or datavisor-molecule:bookworm)
# A copy of frontend/ (no node_modules) goes into a throw-away container, which installs `nodejs npm` from
# the Debian mirror, then runs `npm ci && npm run build` from the committed package-lock.json. The host's CA
# bundle is mounted read-only so npm reaches its registry over HTTPS. Nothing is written to the worktree.
set -euo pipefail
cd "$(dirname "$0")/.."
image=${1:-${MOLECULE_IMAGE:-datavisor-molecule:bookworm}}
name="datavisor-ui-node18-$$"
ca=/etc/ssl/certs/ca-certificates.crt
mounts=()
[[ -f $ca ]] && mounts=(-v "$ca:$ca:ro")

if ! docker image inspect "$image" >/dev/null 2>&1; then
    echo "ui-node18: image $image not found (make molecule-image builds it)" >&2
    exit 1
fi
# the container is ours alone (unique name); remove it however this script ends
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT

started=$SECONDS
tar -C frontend --exclude=./node_modules -cf - . |
    docker run -i --rm --name "$name" "${mounts[@]}" -e DEBIAN_FRONTEND=noninteractive "$image" bash -euo pipefail -c '
        mkdir -p /build/frontend /build/app && tar -xf - -C /build/frontend
        apt-get update -qq >/dev/null
        apt-get install -y -qq --no-install-recommends nodejs npm >/tmp/apt.log 2>&1 || { cat /tmp/apt.log; exit 1; }
        echo "ui-node18: node $(node --version), npm $(npm --version) ($(. /etc/os-release; echo "$PRETTY_NAME"))"
        cd /build/frontend
        npm ci --no-audit --no-fund --loglevel=error
        npm run --silent build
        test -f /build/app/webui/index.html
        echo "ui-node18: built $(ls /build/app/webui/assets | wc -l) assets"
    '
echo "ui-node18: OK in $((SECONDS - started)) s ($image)"
