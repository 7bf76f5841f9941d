#!/usr/bin/env bash
# Deno and Bun for the runtime suites (the Hono adapter's contract and the OpenFaaS provider's
# tests under each, and the examples/hono-deno-bun apps), from their npm packages, which ship
# the binaries: no other download. Idempotent; every wait is bounded.
#
# What the tests read (the default matches, so nothing needs exporting):
#   SFZ_RUNTIMES_DIR   /opt/scale-from-zero-runtimes   (deno and bun in node_modules/.bin)
set -euo pipefail

DIR="${SFZ_RUNTIMES_DIR:-/opt/scale-from-zero-runtimes}"
DENO_VERSION=2.9.6
BUN_VERSION=1.4.5

has() {
  [ "$("$DIR/node_modules/.bin/deno" --version 2>/dev/null | head -n1 | awk '{print $2}')" = "$DENO_VERSION" ] &&
    [ "$("$DIR/node_modules/.bin/bun" --version 2>/dev/null)" = "$BUN_VERSION" ]
}

if ! has; then
  mkdir -p "$DIR"
  [ -e "$DIR/package.json" ] || echo '{ "private": true }' >"$DIR/package.json"
  timeout 600 npm install --prefix "$DIR" --no-audit --no-fund --loglevel=error \
    "deno@$DENO_VERSION" "bun@$BUN_VERSION"
fi
if ! has; then
  echo "deno $DENO_VERSION and bun $BUN_VERSION did not install into $DIR" >&2
  exit 1
fi
echo "$("$DIR/node_modules/.bin/deno" --version | head -n1), bun $("$DIR/node_modules/.bin/bun" --version) in $DIR/node_modules/.bin"
