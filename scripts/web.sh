#!/usr/bin/env bash
# Builds the web UI (web/) into src/postroom/web_dist when the build is missing or older
# than its sources. Needs Node.js 18+ and npm; installs Debian's when they are missing.
# Usage: scripts/web.sh [--force | --test]   (--force: rebuild; --test: also run the Vitest tests)
set -euo pipefail
cd "$(dirname "$0")/.."
mode=${1:-}
dist=src/postroom/web_dist/index.html
stale=yes
if [ "$mode" != "--force" ] && [ -f "$dist" ] && [ -z "$(find web/src web/public web/index.html web/package.json \
    web/package-lock.json web/vite.config.ts web/tsconfig.json -newer "$dist" -print -quit 2>/dev/null)" ]; then
  stale=no
fi
[ "$stale" = yes ] || [ "$mode" = "--test" ] || exit 0
if ! command -v npm >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
  SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "installing Debian packages: nodejs npm"
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends nodejs npm
fi
if ! command -v npm >/dev/null 2>&1; then
  echo "error: npm is missing; install Node.js 18 or newer with npm to build the web UI" >&2
  exit 1
fi
cd web
# Dependencies are reinstalled only when the lock file changed since the last install.
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  npm ci --no-audit --no-fund --loglevel=error
fi
if [ "$stale" = yes ]; then
  echo "building the web UI into src/postroom/web_dist"
  npm run build --silent
fi
if [ "$mode" = "--test" ]; then
  npm test --silent
fi
