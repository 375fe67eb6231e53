#!/usr/bin/env bash
# Make sure Wireshark's tshark (Debian/Ubuntu package tshark) is installed: the Gx end-to-end test decodes the
# CCA with it (no malformed field). As root it is installed with apt-get; otherwise the command is printed.
set -euo pipefail
say() { echo "ensure-tshark: $*" >&2; }
if command -v tshark >/dev/null 2>&1; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing tshark"
    apt-get update -qq
    # wireshark-common asks whether non-root users may capture: answered "no" without a prompt
    echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tshark >/dev/null
    command -v tshark >/dev/null 2>&1 && exit 0
    say "tshark installed but tshark is missing"
    exit 1
fi
say "tshark is missing; the Gx tshark decode check is skipped (in CI it fails). Install it with:"
echo "    sudo apt-get install -y tshark" >&2
exit 0
