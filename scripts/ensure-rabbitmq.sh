#!/usr/bin/env bash
# Make sure RabbitMQ answers on 127.0.0.1:5672 (guest/guest): the SMS tests consume Jasmin's events from it.
# If nothing answers: as root, install Debian's rabbitmq-server when missing and start it
# (`rabbitmq-server -detached`); otherwise print the command and go on (the RabbitMQ tests are then skipped).
# Prints the URL for var/services.env: OCSD_TEST_AMQP_URL=amqp://guest:guest@127.0.0.1:5672/
set -euo pipefail
HOST=127.0.0.1
PORT=${OCSD_AMQP_PORT:-5672}
URL="amqp://guest:guest@$HOST:$PORT/"
say() { echo "ensure-rabbitmq: $*" >&2; }
answers() { { exec 3<>"/dev/tcp/$HOST/$PORT"; } 2>/dev/null || return 1; exec 3<&- 3>&-; }

if [ -n "${OCSD_TEST_AMQP_URL:-}" ]; then
    echo "$OCSD_TEST_AMQP_URL"
    exit 0
fi
if answers; then
    say "RabbitMQ answers on $HOST:$PORT"
    echo "$URL"
    exit 0
fi
if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    say "nothing answers on $HOST:$PORT; the SMS consumer tests are skipped (in CI they fail). Install it with:"
    echo "    sudo apt-get install -y rabbitmq-server && sudo rabbitmq-server -detached" >&2
    echo ""
    exit 0
fi
if ! command -v rabbitmq-server >/dev/null 2>&1; then
    say "installing rabbitmq-server"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends rabbitmq-server >/dev/null
fi
if ! answers; then
    say "starting rabbitmq-server"
    rabbitmq-server -detached >/dev/null 2>&1 || true
fi
for _ in $(seq 150); do
    if answers; then echo "$URL"; exit 0; fi
    sleep 0.2
done
say "RabbitMQ did not start on $HOST:$PORT; see /var/log/rabbitmq/"
echo ""
exit 0
