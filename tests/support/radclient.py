"""FreeRADIUS's radclient (Debian freeradius-utils, installed by scripts/ensure-radclient.sh) as the router."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass

import pytest

RADCLIENT = shutil.which("radclient")
# Skipped on a workstation without it; in CI (scripts/ensure-services.sh installs it) a missing one fails.
needs_radclient = pytest.mark.skipif(RADCLIENT is None and not os.environ.get("CI"),
                                     reason="radclient missing: run scripts/ensure-radclient.sh")


@dataclass(frozen=True)
class Outcome:
    code: str | None  # "Access-Accept", "Access-Reject", "Accounting-Response", or None (no reply)
    attributes: dict[str, str]
    output: str


async def radclient(port: int, kind: str, secret: str, attributes: dict[str, str], *, timeout: float = 2.0,
                    retries: int = 1) -> Outcome:
    """Send one request (`kind`: auth, acct) to 127.0.0.1:`port`; the reply's type and attributes."""
    assert RADCLIENT is not None
    text = ", ".join(f"{k} = {v}" for k, v in attributes.items()) + "\n"
    proc = await asyncio.create_subprocess_exec(
        RADCLIENT, "-x", "-r", str(retries), "-t", str(timeout), f"127.0.0.1:{port}", kind, secret,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await proc.communicate(text.encode())
    output = out.decode(errors="replace")
    code = None
    attrs: dict[str, str] = {}
    in_reply = False
    for line in output.splitlines():
        if line.startswith("Received "):
            code = line.split()[1]
            in_reply = True
        elif line.startswith("Sent "):
            in_reply = False
        elif in_reply and " = " in line:
            name, _, value = line.strip().partition(" = ")
            attrs[name] = value.strip('"')
    return Outcome(code, attrs, output)
