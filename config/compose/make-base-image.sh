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

# The image's "/" must be 0755: a 0700 root (what mktemp -d makes) locks every
# non-root user out of the whole filesystem, and slapd runs as openldap.
root_mode() { tar -tvf "$1" 2>/dev/null | head -1 | cut -c1-10; }
if [ -s "$tarball" ] && [ "$(root_mode "$tarball")" != "drwxr-xr-x" ]; then
  echo "cached $tarball has a root of mode $(root_mode "$tarball"): rebuilding it" >&2
  rm -f "$tarball"
  docker image rm -f "$image" >/dev/null 2>&1 || true
fi
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
  chmod 0755 "$root"
  tar -C "$root" --numeric-owner -cf "$tarball.tmp" .
  [ "$(root_mode "$tarball.tmp")" = "drwxr-xr-x" ] \
    || { echo "the root filesystem tarball's / is not 0755" >&2; exit 1; }
  mv "$tarball.tmp" "$tarball"
fi
docker import --change 'CMD ["bash"]' "$tarball" "$image" >/dev/null
echo "imported $image from $tarball"
