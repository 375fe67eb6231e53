#!/usr/bin/env bash
# Make sure Debian's headless Chromium (package chromium, /usr/bin/chromium) is installed: the captive portal's
# browser test drives it with Playwright (executablePath /usr/bin/chromium; Playwright never downloads a browser
# here). As root it is installed with apt-get; otherwise the command is printed and the browser test is skipped.
set -euo pipefail
say() { echo "ensure-chromium: $*" >&2; }
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    say "installing chromium"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
    [ -x /usr/bin/chromium ] && exit 0
    say "chromium installed but /usr/bin/chromium is missing"
    exit 1
fi
say "chromium is missing; the captive portal's browser test is skipped (in CI it fails). Install it with:"
echo "    sudo apt-get install -y chromium" >&2
exit 0
