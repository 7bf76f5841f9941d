#!/usr/bin/env bash
# Debian's chromium at /usr/bin/chromium, for the tests that drive a real headless browser with
# playwright-core (never `npx playwright install`). Idempotent; every wait is bounded. Needs root.
set -euo pipefail

if ! command -v chromium >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  timeout 600 apt-get update -qq
  timeout 900 apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
timeout 60 chromium --version
