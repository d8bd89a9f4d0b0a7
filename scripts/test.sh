#!/usr/bin/env bash
# Installs everything the tests need (Debian packages, .venv with the dev extras) and runs
# lint, type checks and the whole test suite, on SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
# swaks needs the Perl SSL modules for its STARTTLS and implicit-TLS tests (only "recommended").
packages=(postgresql redis-server swaks libnet-ssleay-perl libio-socket-ssl-perl chromium postfix)
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  # Postfix is started by the tests with their own configuration, never as a system service.
  echo "postfix postfix/main_mailer_type select No configuration" | $SUDO debconf-set-selections
  $SUDO apt-get update -q
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}"
fi
scripts/bootstrap.sh dev
scripts/web.sh --test
.venv/bin/ruff check
.venv/bin/ruff format --check
.venv/bin/mypy
exec .venv/bin/pytest -n "${PYTEST_WORKERS:-2}" "$@"
