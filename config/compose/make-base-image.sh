#!/usr/bin/env bash
# Make debian:bookworm-slim for an engine that cannot reach an image registry:
# debootstrap a minimal Debian bookworm from Debian's mirror and import it.
# The root filesystem tarball is cached (CONNECTOR_BASE_CACHE, default
# /var/cache/connector-docker), so a second engine imports it in seconds.
# Needs root and Debian's debootstrap package. Uses $DOCKER_HOST like docker.
set -euo pipefail
image="${1:-debian:bookworm-slim}"
cache="${CONNECTOR_BASE_CACHE:-/var/cache/connector-docker}"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
tarball="$cache/bookworm-minbase.tar"
if docker image inspect "$image" >/dev/null 2>&1; then
  echo "$image already present"; exit 0
fi
if [ ! -s "$tarball" ]; then
  command -v debootstrap >/dev/null || { echo "install Debian's debootstrap" >&2; exit 1; }
  mkdir -p "$cache"
  root="$(mktemp -d "$cache/rootfs.XXXXXX")"
  trap 'rm -rf "$root"' EXIT
  debootstrap --variant=minbase bookworm "$root" "$mirror" >"$cache/debootstrap.log" 2>&1 \
    || { tail -20 "$cache/debootstrap.log" >&2; exit 1; }
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
  tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
fi
docker import --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
echo "imported $image from $tarball"
