#!/usr/bin/env bash
# A real Docker-compatible engine for @scale-from-zero/docker's tests: podman's Docker API on a
# unix socket, with a local busybox image (no image registry is reachable). Idempotent; every
# wait is bounded. Needs root.
#
# What the tests read (their defaults match, so nothing needs exporting):
#   socket   /run/scale-from-zero-podman/podman.sock   (SFZ_PODMAN_SOCKET)
#   image    localhost/sfz-busybox:latest               (SFZ_PODMAN_IMAGE)
#   conf     /etc/scale-from-zero/containers.conf       (CONTAINERS_CONF for the podman CLI)
set -euo pipefail

SOCKET_DIR=/run/scale-from-zero-podman
SOCKET="${SFZ_PODMAN_SOCKET:-$SOCKET_DIR/podman.sock}"
CONF=/etc/scale-from-zero/containers.conf
IMAGE="${SFZ_PODMAN_IMAGE:-localhost/sfz-busybox:latest}"
export CONTAINERS_CONF="$CONF"
PODMAN=(timeout 120 podman --storage-driver=vfs)

if ! command -v podman >/dev/null || ! command -v runc >/dev/null || ! [ -x /bin/busybox ] ||
  ! command -v curl >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends podman runc busybox-static curl \
    >/dev/null
fi

# crun fails on this kernel's cgroup layout; the default ulimits fail with EPERM.
mkdir -p "$(dirname "$CONF")"
cat >"$CONF" <<'EOF'
[containers]
default_ulimits = []

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF

if ! "${PODMAN[@]}" image exists "$IMAGE"; then
  rootfs="$(mktemp -d)"
  trap 'rm -rf "$rootfs"' EXIT
  mkdir -p "$rootfs/bin" "$rootfs/tmp" "$rootfs/www"
  cp /bin/busybox "$rootfs/bin/busybox"
  for applet in sh httpd sleep true false wget cat echo; do
    ln -sf busybox "$rootfs/bin/$applet"
  done
  echo "hello from busybox" >"$rootfs/www/index.html"
  tar -C "$rootfs" -cf "$rootfs.tar" .
  "${PODMAN[@]}" import "$rootfs.tar" "$IMAGE" >/dev/null
  rm -f "$rootfs.tar"
fi

api_answers() {
  curl -sf --max-time 2 --unix-socket "$SOCKET" http://d/v1.41/_ping >/dev/null 2>&1
}

if ! api_answers; then
  mkdir -p "$(dirname "$SOCKET")"
  rm -f "$SOCKET"
  # setsid + nohup: the service outlives this script (.ci/run runs the tests in a later step).
  # Started from /: conmon inherits its working directory, and fails to start any container
  # ("Failed to get working directory") once the checkout it was started in is deleted.
  (cd / && exec setsid nohup podman --storage-driver=vfs system service --time=0 "unix://$SOCKET" \
    >"$(dirname "$SOCKET")/service.log" 2>&1 </dev/null) &
  for _ in $(seq 1 60); do
    api_answers && break
    sleep 0.5
  done
  if ! api_answers; then
    echo "podman API did not answer on $SOCKET within 30s:" >&2
    tail -n 20 "$(dirname "$SOCKET")/service.log" >&2 || true
    exit 1
  fi
fi
echo "podman $(podman --version | awk '{print $3}') API on unix://$SOCKET, image $IMAGE"
