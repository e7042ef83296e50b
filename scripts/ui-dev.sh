#!/usr/bin/env bash
# The app's dev server on http://localhost:3000 (the backend's default CORS origin), talking to the
# backend on http://localhost:8000 cross-origin. Start the backend with `make run` in another shell.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
if [[ ! -f node_modules/.package-lock.json || package-lock.json -nt node_modules/.package-lock.json ]]; then
    npm ci --no-audit --no-fund --loglevel=error
fi
exec npm run dev
