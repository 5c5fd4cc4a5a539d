#!/usr/bin/env bash
# Local base images for machines that reach no container registry (only Debian's and Python's package
# mirrors): the same roles as the public images docker-compose.yml names, built from Debian bookworm's
# packages with debootstrap. Users with a registry never need this.
#
#   docker/build-local-bases.sh [ENGINE]      # ENGINE: podman (default) or docker; needs root for debootstrap
#
# Images (skipped when present; FORCE=1 rebuilds):
#   localhost/kinematics-local/debian:bookworm   minbase + python3 (3.11) + python3-venv + ca-certificates,
#                                                the BASE_IMAGE of docker/Dockerfile.api and .worker-cpu
#   localhost/kinematics-local/redis:bookworm    redis-server (docker/local/Dockerfile.redis)
#   localhost/kinematics-local/nginx:bookworm    nginx with the public image's template entrypoint
#                                                (docker/local/Dockerfile.nginx)
# docker/compose.local.yml points the stack at them.
set -euo pipefail
cd "$(dirname "$0")/.."
ENGINE=${1:-podman}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE=localhost/kinematics-local/debian:bookworm

have() { [ "${FORCE:-0}" != 1 ] && "$ENGINE" image exists "$1" 2>/dev/null; }

if have "$BASE"; then
    echo "local bases: $BASE present"
else
    command -v debootstrap >/dev/null || { echo "local bases: debootstrap is needed (apt-get install debootstrap)" >&2; exit 2; }
    work=$(mktemp -d)
    trap 'rm -rf "$work"' EXIT
    echo "local bases: debootstrap bookworm (about 2 minutes)"
    debootstrap --variant=minbase --include=python3,python3-venv,ca-certificates bookworm "$work/rootfs" "$MIRROR" \
        > "$work/debootstrap.log" 2>&1 || { tail -20 "$work/debootstrap.log" >&2; exit 1; }
    # As Debian's slim images: no manuals, docs or translations, now or from later apt installs
    cat > "$work/rootfs/etc/dpkg/dpkg.cfg.d/docker-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
CFG
    find "$work/rootfs/usr/share/doc" -type f ! -name copyright -delete
    rm -rf "$work"/rootfs/usr/share/{man,info,locale}/* "$work"/rootfs/var/cache/apt/archives/*.deb \
        "$work"/rootfs/var/lib/apt/lists/*
    tar -C "$work/rootfs" -c . | "$ENGINE" import --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
    echo "local bases: $BASE imported"
fi
for name in redis nginx; do
    if have "localhost/kinematics-local/$name:bookworm"; then
        echo "local bases: localhost/kinematics-local/$name:bookworm present"
        continue
    fi
    "$ENGINE" build -q --build-arg BASE_IMAGE="$BASE" -f "docker/local/Dockerfile.$name" \
        -t "localhost/kinematics-local/$name:bookworm" . >/dev/null
    echo "local bases: localhost/kinematics-local/$name:bookworm built"
done
