#!/usr/bin/env bash
# Installs Postroom into .venv and runs `postroom serve`: HTTP on 8025, SMTP on 1025, SQLite in ./postroom-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/bootstrap.sh
scripts/web.sh
exec .venv/bin/postroom serve "$@"
