#!/usr/bin/env bash
# Stop the private Redis and PostgreSQL that scripts/ensure-services.sh started under ./var (if any).
set -euo pipefail
cd "$(dirname "$0")/.."
VAR=$PWD/var

if [ -f "$VAR/redis/redis.pid" ]; then
    pid=$(cat "$VAR/redis/redis.pid")
    if kill -0 "$pid" 2>/dev/null; then
        echo "stopping private Redis (pid $pid)"
        kill "$pid"
    fi
    rm -f "$VAR/redis/redis.pid"
fi

if [ -f "$VAR/pg/datadir" ]; then
    data=$(cat "$VAR/pg/datadir")
    bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$bindir" ] && [ -f "$data/postmaster.pid" ]; then
        owner=$(stat -c %U "$data")
        echo "stopping private PostgreSQL ($data)"
        if [ "$(id -u)" -eq 0 ] && [ "$owner" != root ]; then
            runuser -u "$owner" -- "$bindir/pg_ctl" -D "$data" -m fast -w stop
        else
            "$bindir/pg_ctl" -D "$data" -m fast -w stop
        fi
    fi
fi
