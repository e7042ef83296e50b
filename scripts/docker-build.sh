#!/usr/bin/env bash
# `docker build` with BuildKit when the buildx plugin is there, the classic builder otherwise
# (Dockerfile.backend needs neither).   scripts/docker-build.sh DOCKER_BUILD_ARGS...
set -euo pipefail
if [ -z "${DOCKER_BUILDKIT:-}" ]; then
    docker buildx version >/dev/null 2>&1 && export DOCKER_BUILDKIT=1 || export DOCKER_BUILDKIT=0
fi
exec docker build "$@"
