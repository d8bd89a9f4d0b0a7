#!/bin/sh
# Container entrypoint. Outside production, a container started without JWT_SECRET gets a random
# one, written once to the settings file in its data volume (POSTROOM_CONFIG), so tokens survive
# restarts and every `docker exec postroom ...` command reads the same value. That secret also
# derives the key that encrypts credentials at rest, so the file lives and is backed up with the
# data. Production is never given a generated secret: Postroom refuses to start without one.
set -eu

config=${POSTROOM_CONFIG:-}
environment=${POSTROOM_ENV:-${APP_ENV:-${ENVIRONMENT:-development}}}

if [ -n "$config" ] && [ ! -e "$config" ] && [ -z "${JWT_SECRET:-}${POSTROOM_JWT_SECRET:-}" ]; then
    case "$environment" in
        production | prod) ;;
        *)
            mkdir -p "$(dirname "$config")"
            secret=$(python -c 'import secrets; print(secrets.token_hex(32))')
            (
                umask 077
                printf '# Written on first start; settings added here apply to every process.\nJWT_SECRET=%s\n' \
                    "$secret" >"$config"
            )
            echo "postroom-entrypoint: generated JWT_SECRET in $config (keep this file with the data)" >&2
            ;;
    esac
fi

exec "$@"
