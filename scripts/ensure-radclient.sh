#!/usr/bin/env bash
# Make sure FreeRADIUS's radclient (Debian/Ubuntu package freeradius-utils) is installed: the RADIUS end-to-end
# tests use it as the router. As root it is installed with apt-get; otherwise the command is printed.
set -euo pipefail
say() { echo "ensure-radclient: $*" >&2; }
if command -v radclient >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing freeradius-utils"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq freeradius-utils >/dev/null
    command -v radclient >/dev/null 2>&1 && exit 0
    say "freeradius-utils installed but radclient is missing"
    exit 1
fi
say "radclient is missing; the RADIUS end-to-end tests are skipped (in CI they fail). Install it with:"
echo "    sudo apt-get install -y freeradius-utils" >&2
exit 0
