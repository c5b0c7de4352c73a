#!/usr/bin/env bash
# Make a Debian bullseye base image for the Autobahn server image when the
# default base (debian:bullseye-slim) cannot be pulled.
#
# Prints the image name to use as the Dockerfile's BASE build argument:
#   debian:bullseye-slim   when it is present or can be pulled;
#   wskit/bullseye-base    otherwise, built here with debootstrap if missing.
#
# Needs: docker (daemon running), and debootstrap when the pull fails.
# Env: AUTOBAHN_BASE_PULL_TIMEOUT (seconds, default 30),
#      AUTOBAHN_DEBIAN_MIRROR (default: first URIs:/deb line of the apt sources).
set -euo pipefail

readonly DEFAULT_BASE="debian:bullseye-slim"
readonly LOCAL_BASE="wskit/bullseye-base"
readonly PULL_TIMEOUT="${AUTOBAHN_BASE_PULL_TIMEOUT:-30}"

log() { printf 'autobahn_base: %s\n' "$*" >&2; }

have_image() { docker image inspect "$1" >/dev/null 2>&1; }

debian_mirror() {
    if [[ -n "${AUTOBAHN_DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "$AUTOBAHN_DEBIAN_MIRROR"
        return
    fi
    local uri=""
    if [[ -f /etc/apt/sources.list.d/debian.sources ]]; then
        uri="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)"
    fi
    if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
        uri="$(awk '$1 == "deb" && $2 !~ /^\[/ {print $2; exit} $1 == "deb" && $2 ~ /^\[/ {print $3; exit}' /etc/apt/sources.list)"
    fi
    if [[ -z "$uri" ]]; then
        log "no Debian archive URL found; set AUTOBAHN_DEBIAN_MIRROR"
        exit 1
    fi
    printf '%s\n' "$uri"
}

ROOTFS=""
cleanup() { if [[ -n "$ROOTFS" ]]; then rm -rf "$ROOTFS"; fi; }
trap cleanup EXIT

build_local_base() {
    command -v debootstrap >/dev/null || { log "debootstrap is not installed"; exit 1; }
    local root mirror
    ROOTFS="$(mktemp -d /tmp/wskit-bullseye.XXXXXX)"
    root="$ROOTFS"
    mirror="$(debian_mirror)"
    log "debootstrap bullseye from $mirror into $root"
    debootstrap --variant=minbase bullseye "$root" "$mirror" >&2
    rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
    tar -C "$root" -c . | docker import - "$LOCAL_BASE" >/dev/null
    log "imported $LOCAL_BASE"
}

main() {
    if have_image "$DEFAULT_BASE"; then
        printf '%s\n' "$DEFAULT_BASE"
        return
    fi
    if have_image "$LOCAL_BASE"; then
        printf '%s\n' "$LOCAL_BASE"
        return
    fi
    if timeout "$PULL_TIMEOUT" docker pull -q "$DEFAULT_BASE" >/dev/null 2>&1; then
        printf '%s\n' "$DEFAULT_BASE"
        return
    fi
    log "cannot pull $DEFAULT_BASE; building $LOCAL_BASE"
    build_local_base
    printf '%s\n' "$LOCAL_BASE"
}

main "$@"
