#!/usr/bin/env bash
# A real Kubernetes API server for @scale-from-zero/kubernetes's and /openfaas's tests: the tests
# start kube-apiserver (and faas-netes) themselves from the shared folder's run.sh on free ports;
# what they need from the system is Debian's etcd-server, installed here. Idempotent; every wait is
# bounded. Needs root.
#
# The shared folder: $SFZ_SHARED_DIR, else <repo>/../shared, else /work/shared.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v etcd >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get -o DPkg::Lock::Timeout=600 update -qq
  timeout 900 apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends etcd-server >/dev/null
fi
# Debian's package starts a system etcd on the default ports; the tests run their own.
if command -v systemctl >/dev/null && systemctl is-active --quiet etcd 2>/dev/null; then
  timeout 30 systemctl stop etcd || true
fi
for shared in "${SFZ_SHARED_DIR:-}" "$PWD/../shared" /work/shared; do
  if [ -n "$shared" ] && [ -x "$shared/kube-apiserver/run.sh" ]; then
    echo "etcd $(etcd --version | awk '/etcd Version/{print $3}'); kube-apiserver and faas-netes from $shared"
    exit 0
  fi
done
echo "no shared folder with kube-apiserver/run.sh (set SFZ_SHARED_DIR)" >&2
exit 1
