#!/usr/bin/env bash
# ensure-e2e-tools.sh installs what the e2e suite needs beyond Go, Postgres and
# Redis, from Debian's packages only: docker-compose (to validate
# docker-compose.yml without a Docker engine), redis-server (a private one for
# the Redis restart test) and chromium plus node/npm (the browser test drives
# Debian's chromium with playwright-core; no browser is ever downloaded), and,
# for readable screenshots only, an emoji font.
# When something is missing and cannot be installed it says so and exits 1.
set -u
cd "$(dirname "$0")/.."
need=()
command -v docker-compose >/dev/null 2>&1 || need+=(docker-compose)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ -f e2e/browser/package.json ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v npm >/dev/null 2>&1 || need+=(npm)
fi
if [ ${#need[@]} -gt 0 ]; then
  echo "ensure-e2e-tools: installing ${need[*]} from Debian" >&2
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null 2>&1
  fi
  missing=()
  for p in "${need[@]}"; do
    command -v "$p" >/dev/null 2>&1 || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    echo "ensure-e2e-tools: cannot run the e2e suite, missing: ${missing[*]} (apt-get install -y ${missing[*]})" >&2
    exit 1
  fi
fi
if [ -f e2e/browser/package.json ] && command -v fc-list >/dev/null 2>&1 && ! fc-list | grep -qi 'color emoji'; then
  # Only for the screenshots in e2e/artifacts: without an emoji font chromium
  # draws the typed emoji as empty boxes. The tests do not depend on it.
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends fonts-noto-color-emoji >/dev/null 2>&1 ||
      echo "ensure-e2e-tools: could not install fonts-noto-color-emoji; screenshots will show emoji as boxes" >&2
  fi
fi
if [ -f e2e/browser/package.json ]; then
  # playwright-core ships no browser and downloads none.
  (cd e2e/browser && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || {
    echo "ensure-e2e-tools: npm ci in e2e/browser failed" >&2
    exit 1
  }
fi
echo "ensure-e2e-tools: docker-compose, redis-server$( [ -f e2e/browser/package.json ] && echo ', chromium, playwright-core') ready"
