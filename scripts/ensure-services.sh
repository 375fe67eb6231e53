#!/usr/bin/env bash
# Make sure Redis (127.0.0.1:6379) and PostgreSQL (127.0.0.1:5432, user postgres, no password) answer.
#
#   1. If they already answer, use them.
#   2. Otherwise start private instances under ./var from the system binaries (redis-server; initdb and
#      pg_ctl from /usr/lib/postgresql/*/bin), PostgreSQL as a non-root user when we are root.
#   3. Where the binaries are missing: as root, apt-get install them; otherwise print the command and exit 1.
#
# Prints the URLs used and writes them to var/services.env (sourced by the Makefile):
#   OCSD_TEST_REDIS_URL=redis://127.0.0.1:6379/0
#   OCSD_TEST_PG_DSN=postgresql://postgres@127.0.0.1:5432/postgres
# Stop private instances with: scripts/stop-services.sh
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
VAR=$ROOT/var
HOST=127.0.0.1
REDIS_PORT=${OCSD_REDIS_PORT:-6379}  # override only to test this script
PG_PORT=${OCSD_PG_PORT:-5432}
REDIS_URL="redis://$HOST:$REDIS_PORT/0"
PG_DSN="postgresql://postgres@$HOST:$PG_PORT/postgres"

say() { echo "ensure-services: $*" >&2; }

redis_answers() {
    if command -v redis-cli >/dev/null 2>&1; then
        [ "$(redis-cli -h "$HOST" -p "$REDIS_PORT" ping 2>/dev/null)" = "PONG" ]
        return
    fi
    # no client installed: speak RESP over bash's /dev/tcp
    local reply=""
    { exec 3<>"/dev/tcp/$HOST/$REDIS_PORT"; } 2>/dev/null || return 1
    printf 'PING\r\n' >&3
    IFS= read -r -t 2 reply <&3 || true
    exec 3<&- 3>&-
    [[ "$reply" == "+PONG"* ]]
}

pg_answers() {
    if command -v pg_isready >/dev/null 2>&1; then
        pg_isready -q -h "$HOST" -p "$PG_PORT" -U postgres -t 2
        return
    fi
    { exec 3<>"/dev/tcp/$HOST/$PG_PORT"; } 2>/dev/null || return 1
    exec 3<&- 3>&-
}

port_taken() {  # something listens but does not answer as expected
    { exec 3<>"/dev/tcp/$HOST/$1"; } 2>/dev/null || return 1
    exec 3<&- 3>&-
}

pg_bindir() {
    local dir
    dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
    if [ -n "$dir" ] && [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
        echo "$dir"
    fi
}

install_packages() {  # $@: Debian packages
    if [ "$(id -u)" -ne 0 ]; then
        say "missing: $*. Install them with:"
        echo "    sudo apt-get update && sudo apt-get install -y $*" >&2
        say "or point the tests at running services with OCSD_TEST_REDIS_URL and OCSD_TEST_PG_DSN."
        exit 1
    fi
    if ! command -v apt-get >/dev/null 2>&1; then
        say "missing: $* and no apt-get here; install them with your package manager."
        exit 1
    fi
    say "installing $* with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

start_redis() {
    command -v redis-server >/dev/null 2>&1 || install_packages redis-server
    redis_answers && return 0  # the package's own service may have started
    if port_taken "$REDIS_PORT"; then
        say "something on $HOST:$REDIS_PORT is not Redis; free the port or set OCSD_TEST_REDIS_URL"
        exit 1
    fi
    mkdir -p "$VAR/redis"
    say "starting a private Redis on $HOST:$REDIS_PORT (data in var/redis)"
    redis-server --bind "$HOST" --port "$REDIS_PORT" --daemonize yes --dir "$VAR/redis" \
        --pidfile "$VAR/redis/redis.pid" --logfile "$VAR/redis/redis.log" --appendonly yes \
        --save "" >/dev/null
    for _ in $(seq 50); do redis_answers && return 0; sleep 0.1; done
    say "Redis did not start; see var/redis/redis.log"
    exit 1
}

as_pg_user() {  # run a command as the PostgreSQL owner ($PG_USER), directly when we are not root
    if [ "$(id -u)" -eq 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u "$PG_USER" -- "$@"
        else
            su -s /bin/sh "$PG_USER" -c "$(printf '%q ' "$@")"
        fi
    else
        "$@"
    fi
}

start_postgres() {
    local bindir
    bindir=$(pg_bindir)
    if [ -z "$bindir" ]; then
        install_packages postgresql
        pg_answers && return 0  # the package's own cluster may have started
        bindir=$(pg_bindir)
        [ -n "$bindir" ] || { say "no initdb/pg_ctl under /usr/lib/postgresql/*/bin"; exit 1; }
    fi
    if port_taken "$PG_PORT"; then
        say "something on $HOST:$PG_PORT is not answering as PostgreSQL; free the port or set OCSD_TEST_PG_DSN"
        exit 1
    fi
    PG_USER=$(id -un)
    local data=$VAR/pg/data
    if [ "$(id -u)" -eq 0 ]; then
        # PostgreSQL refuses to run as root: use the "postgres" system user (or nobody)
        PG_USER=postgres
        id postgres >/dev/null 2>&1 || PG_USER=nobody
        mkdir -p "$VAR/pg"
        chown "$PG_USER" "$VAR/pg"
        if ! as_pg_user test -w "$VAR/pg"; then
            # the checkout is not reachable for that user (e.g. under /root): keep the cluster in /tmp
            data=/tmp/ocsd-pg-$(echo "$ROOT" | md5sum | cut -c1-8)/data
            mkdir -p "$(dirname "$data")"
            chown "$PG_USER" "$(dirname "$data")"
        fi
    else
        mkdir -p "$VAR/pg"
    fi
    if [ ! -f "$data/PG_VERSION" ]; then
        say "initdb in $data (as $PG_USER)"
        as_pg_user "$bindir/initdb" -D "$data" -U postgres --auth=trust -E UTF8 --no-sync >/dev/null
    fi
    echo "$data" >"$VAR/pg/datadir"
    say "starting a private PostgreSQL on $HOST:$PG_PORT (data in $data)"
    as_pg_user "$bindir/pg_ctl" -D "$data" -l "$data/../postgres.log" -w -t 30 \
        -o "-c listen_addresses=$HOST -p $PG_PORT -k $data" start >/dev/null
    for _ in $(seq 50); do pg_answers && return 0; sleep 0.1; done
    say "PostgreSQL did not start; see $data/../postgres.log"
    exit 1
}

if [ -n "${OCSD_TEST_REDIS_URL:-}" ] || [ -n "${OCSD_TEST_PG_DSN:-}" ]; then
    say "using the services named by OCSD_TEST_REDIS_URL / OCSD_TEST_PG_DSN as given"
    REDIS_URL=${OCSD_TEST_REDIS_URL:-$REDIS_URL}
    PG_DSN=${OCSD_TEST_PG_DSN:-$PG_DSN}
else
    if redis_answers; then say "Redis answers on $HOST:$REDIS_PORT"; else start_redis; fi
    if pg_answers; then say "PostgreSQL answers on $HOST:$PG_PORT"; else start_postgres; fi
fi

"$ROOT/scripts/ensure-radclient.sh"  # the RADIUS end-to-end tests' router (freeradius-utils)
"$ROOT/scripts/ensure-chromium.sh"  # the captive portal's browser test (Debian chromium driven by Playwright)
"$ROOT/scripts/ensure-tshark.sh"  # the Gx end-to-end test decodes CCAs with it (Wireshark)
AMQP_URL=$("$ROOT/scripts/ensure-rabbitmq.sh")  # the SMS tests consume Jasmin's events from it

mkdir -p "$VAR"
cat >"$VAR/services.env" <<EOF
export OCSD_TEST_REDIS_URL=$REDIS_URL
export OCSD_TEST_PG_DSN=$PG_DSN
EOF
if [ -n "$AMQP_URL" ]; then echo "export OCSD_TEST_AMQP_URL=$AMQP_URL" >>"$VAR/services.env"; fi
echo "OCSD_TEST_REDIS_URL=$REDIS_URL"
echo "OCSD_TEST_PG_DSN=$PG_DSN"
