#!/usr/bin/env bash
# Create .venv with a Python >= 3.11 and install ocsd into it, editable, with the dev extra.
# Re-installs only when pyproject.toml changed since the last install (stamp: .venv/.installed).
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv

say() { echo "venv: $*" >&2; }

find_python() {
    local candidate
    for candidate in ${PYTHON:-} python3.13 python3.12 python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
            "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            command -v "$candidate"
            return 0
        fi
    done
    return 1
}

if [ ! -x "$VENV/bin/python" ]; then
    python=$(find_python) || {
        say "ocsd needs Python >= 3.11 (Debian 12, Ubuntu 24.04 have it)."
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "trying: apt-get install python3 python3-venv"
            apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3 python3-venv >/dev/null
            python=$(find_python) || { say "no Python >= 3.11 available from apt"; exit 1; }
        else
            echo "    sudo apt-get install -y python3 python3-venv   # needs a release with Python >= 3.11" >&2
            exit 1
        fi
    }
    if ! "$python" -m venv "$VENV" 2>/dev/null; then
        rm -rf "$VENV"
        # Debian/Ubuntu ship venv's ensurepip separately (python3.X-venv)
        pkg="python3-venv $(basename "$python")-venv"
        if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
            say "installing $pkg"
            apt-get update -qq
            # shellcheck disable=SC2086
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $pkg >/dev/null || \
                DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
            "$python" -m venv "$VENV"
        else
            say "cannot create a venv; install the venv module with:"
            echo "    sudo apt-get install -y $pkg" >&2
            exit 1
        fi
    fi
fi

if [ ! -f "$VENV/.installed" ] || [ pyproject.toml -nt "$VENV/.installed" ]; then
    say "pip install -e '.[dev]'"
    "$VENV/bin/python" -m pip install -q -e '.[dev]'
    touch "$VENV/.installed"
fi
