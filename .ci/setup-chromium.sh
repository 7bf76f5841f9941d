#!/usr/bin/env bash
# Debian's chromium for the dashboard tests (driven by playwright-core; never `playwright install`).
# Idempotent: does nothing when it is already installed.
set -euo pipefail

if command -v chromium >/dev/null 2>&1; then
  chromium --version
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
timeout 300 apt-get update -qq
timeout 900 apt-get install -y -qq chromium >/dev/null
chromium --version
