#!/usr/bin/env bash
# Creates .venv with Postroom installed. Usage: scripts/bootstrap.sh [extra]   (extra: dev)
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
if ! python3 -m venv --help >/dev/null 2>&1 || ! python3 -c "import ensurepip" >/dev/null 2>&1; then
  $SUDO apt-get update -q && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q python3-venv python3-pip
fi
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
if [ -n "$extra" ]; then
  .venv/bin/python -m pip install -q -e ".[$extra]"
else
  .venv/bin/python -m pip install -q -e .
fi
