#!/usr/bin/env bash
# Build the browser app (frontend/) into app/webui, which the backend serves at /.
#   scripts/build-ui.sh            always build (`make ui`)
#   scripts/build-ui.sh --if-stale build only when a source is newer than the build (`make run`, tests)
#   scripts/build-ui.sh --deps     only install the dependencies (tests that run npm scripts)
# Dependencies come from frontend/package-lock.json via `npm ci`, re-run when the lock changes.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
out=../app/webui/index.html

sources_newer() {
    [[ ! -f $out ]] && return 0
    [[ -n $(find src public index.html package.json package-lock.json vite.config.ts tsconfig.json -newer "$out" -print -quit 2>/dev/null) ]]
}

if [[ ${1:-} == --if-stale ]] && ! sources_newer; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "build-ui: npm not found; install Node.js 18+ and npm (Debian: apt-get install nodejs npm)" >&2
    # `make run` still serves the API (and / says how to build the app); `make ui` fails
    [[ ${1:-} == --if-stale ]] && exit 0 || exit 1
fi
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
[[ ${1:-} == --deps ]] && exit 0
npm run --silent build
touch "$out"  # the build's mtime marks what it was built from
