#!/usr/bin/env bash
# Scenarios that run the role's container runtime on systemd through the host's Docker (`container`, and
# `trixie` on Debian 13). The image is the one `make image-test` builds (TEST_IMAGE), handed to the role as a
# `docker save` archive.
#   scripts/molecule-container.sh [TEST_IMAGE [SCENARIO]]
set -euo pipefail
cd "$(dirname "$0")/.."
test_image=${1:-datavisor-backend:test}
scenario=${2:-container}
# One tag and archive per scenario, so the scenarios can run side by side (container's verify retags its own;
# the role's release tags are per container name, and the scenarios' cleanup removes them).
suffix=$([ "$scenario" = container ] || echo "-$scenario")
tag=datavisor-backend:molecule$suffix
archive=datavisor-backend-molecule$suffix.tar
archives=build/image
docker image inspect "$test_image" >/dev/null 2>&1 || make image-test TEST_IMAGE="$test_image"
mkdir -p "$archives"
docker tag "$test_image" "$tag"
docker save "$tag" --output "$archives/$archive"
status=0
scripts/molecule.sh "$scenario" || status=$?
rm -f "$archives/$archive"
docker rmi "$tag" >/dev/null 2>&1 || true
exit $status
