#!/usr/bin/env bash
# Build Dockerfile.backend with no image registry and no package index: local stand-ins for its two base
# images, made from Debian packages and the uv wheel, and an offline package source (a uv cache of the
# lock's runtime set plus the +cpu torch wheel). Used by `make image-test`.
#
#   tests/deploy/image/build_offline.sh IMAGE_TAG
#
# Environment (the Makefile passes them): UV (the uv binary), UV_VERSION, TORCH_WHEELS (a directory with
# torch-<pin>+cpu-cp311-*.whl, or empty to download it from TORCH_INDEX), TORCH_INDEX, PYTHON (a Python
# 3.11 with pip: the Makefile passes the .tools venv), DEBIAN_MIRROR. Stand-ins and the offline source are
# reused when present (delete them to rebuild: `docker rmi datavisor-stand-in/python:3.11-bookworm
# datavisor-stand-in/uv:$UV_VERSION`, rm -rf build/image).
#
# Stand-ins, not the real thing: Debian bookworm's Python is 3.11 (the production base is
# python:3.14-slim), so the cache holds cp311 wheels. Everything else (the Dockerfile, the lock, the
# exclusions, the hash-checked torch build) is the production path.
set -euo pipefail

tag=${1:?usage: build_offline.sh IMAGE_TAG}
cd "$(dirname "$0")/../../.."

: "${UV_VERSION:?}"
PYTHON=${PYTHON:-python3}
UV=${UV:-uv}
TORCH_WHEELS=${TORCH_WHEELS:-}
TORCH_INDEX=${TORCH_INDEX:-https://download.pytorch.org/whl/cpu}
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEBIAN_SUITE=bookworm

work=build/image
offline=$work/offline
python_image=datavisor-stand-in/python:3.11-$DEBIAN_SUITE
uv_image=datavisor-stand-in/uv:$UV_VERSION
mkdir -p "$work"

say() { printf '== %s  %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }
PATH_ENV=PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# -- python stand-in: a minbase bookworm rootfs with python3 and curl ---------------------------------
if ! have_image "$python_image"; then
    say "building $python_image with debootstrap from $DEBIAN_MIRROR"
    rootfs=$(mktemp -d "$PWD/$work/rootfs.XXXXXX")
    trap 'rm -rf "$rootfs"' EXIT
    debootstrap --variant=minbase --include=python3,curl,ca-certificates \
        "$DEBIAN_SUITE" "$rootfs" "$DEBIAN_MIRROR" >"$work/debootstrap.log" 2>&1 \
        || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # What python:*-slim also leaves out: package caches, indexes, docs.
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
        "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* \
        "$rootfs"/usr/share/locale/*
    tar --numeric-owner -C "$rootfs" -c . \
        | docker import --change "ENV $PATH_ENV" --change 'ENV LANG=C.UTF-8' \
            --change 'CMD ["python3"]' - "$python_image" >/dev/null
    rm -rf "$rootfs"
    trap - EXIT
fi

# -- uv stand-in: the uv binary of the pinned release at /uv, like ghcr.io/astral-sh/uv ----------------
if ! have_image "$uv_image"; then
    say "building $uv_image from the uv $UV_VERSION wheel"
    uvdir=$(mktemp -d "$PWD/$work/uv.XXXXXX")
    "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --dest "$uvdir" "uv==$UV_VERSION"
    "$PYTHON" - "$uvdir" <<'EOF'
import pathlib, sys, zipfile
root = pathlib.Path(sys.argv[1])
(wheel,) = root.glob("uv-*.whl")
with zipfile.ZipFile(wheel) as zf:
    (member,) = [n for n in zf.namelist() if n.endswith(".data/scripts/uv")]
    (root / "rootfs").mkdir()
    (root / "rootfs" / "uv").write_bytes(zf.read(member))
    (root / "rootfs" / "uv").chmod(0o755)
EOF
    tar --numeric-owner -C "$uvdir/rootfs" -c . | docker import --change 'CMD ["/uv"]' - "$uv_image" >/dev/null
    rm -rf "$uvdir"
fi

# -- offline package source: a uv cache of this lock's runtime set, and the +cpu torch -----------------
# Filled by the same `uv sync --frozen` the image runs, on this host (which reaches PyPI) with a CPython
# that matches the stand-in (3.11, x86_64 glibc): the image's `uv sync --frozen --offline` then finds every
# wheel of the lock, and the build backend of the project, in the cache.
if [ ! -f "$offline/.complete" ] || [ uv.lock -nt "$offline/.complete" ] \
        || [ pyproject.toml -nt "$offline/.complete" ]; then
    say "filling $offline"
    "$PYTHON" -c 'import platform, sys; sys.exit(None if sys.version_info[:2] == (3, 11) and platform.machine() == "x86_64" and platform.libc_ver()[0] == "glibc" else "the offline cache is for the cp311 x86_64 glibc stand-in: set PYTHON to such a Python 3.11")'
    rm -rf "$offline"
    mkdir -p "$offline/torch"
    # shellcheck disable=SC2046 # one flag per word
    UV_CACHE_DIR=$offline/uv-cache UV_PROJECT_ENVIRONMENT=$work/offline-venv UV_PYTHON_DOWNLOADS=never \
        "$UV" sync --quiet --frozen --no-default-groups --no-editable --python "$PYTHON" \
        $(python3 scripts/lockinfo.py no-install-flags)
    rm -rf "$work/offline-venv"
    torch_wheel=$(ls "${TORCH_WHEELS:-/nonexistent}"/torch-*+cpu-cp311-cp311-*x86_64.whl 2>/dev/null | head -1 || true)
    if [ -n "$torch_wheel" ]; then
        cp "$torch_wheel" "$offline/torch/"
    else
        python3 scripts/lockinfo.py torch-requirement >"$work/torch.txt"
        "$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --require-hashes --index-url "$TORCH_INDEX" \
            --dest "$offline/torch" -r "$work/torch.txt"
    fi
    touch "$offline/.complete"
fi

# -- the image: Dockerfile.backend unchanged, only its arguments differ -------------------------------
say "building $tag (PYTHON_IMAGE=$python_image UV_IMAGE=$uv_image OFFLINE=$offline)"
previous=$(docker image inspect --format '{{.Id}}' "$tag" 2>/dev/null || true)
scripts/docker-build.sh -f Dockerfile.backend -t "$tag" \
    --build-arg PYTHON_IMAGE="$python_image" \
    --build-arg UV_IMAGE="$uv_image" \
    --build-arg OFFLINE="$offline" \
    --build-arg VERSION="$(sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml)" \
    .
# The image this tag named before is left untagged by the rebuild: drop it (and its unused layers).
if [ -n "$previous" ] && [ "$previous" != "$(docker image inspect --format '{{.Id}}' "$tag")" ]; then
    docker rmi "$previous" >/dev/null 2>&1 || true
fi
