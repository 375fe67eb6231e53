"""`ocsd status`: what the running daemon says about itself, read from its admin port (GET /api/v1/status with
the config's [admin] token): readiness and what is wrong, peers, reservations, ledger lag.

Exit status: 0 ready, 1 not ready or the daemon cannot be reached, 2 a bad config or a refused token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import click

from ocs.cli.common import EXIT_UNAVAILABLE, config_option, fail, json_option, load_or_exit
from ocs.config import Config, split_hostport


def admin_url(config: Config, path: str) -> str:
    host, port = split_hostport(config.admin.listen)
    if host in ("0.0.0.0", "::", ""):  # a wildcard bind: the daemon answers on loopback too
        host = "127.0.0.1"
    return f"http://{f'[{host}]' if ':' in host else host}:{port}{path}"


def fetch_status(config: Config, timeout: float = 10.0) -> dict[str, Any]:
    """The daemon's /api/v1/status; raises OSError when it cannot be reached, PermissionError on 401/403."""
    request = urllib.request.Request(admin_url(config, "/api/v1/status"))
    if config.admin.token is not None:
        request.add_header("Authorization", f"Bearer {config.admin.token}")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310 (http to our own port)
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as e:
        if e.code in (401, 403):
            raise PermissionError(f"the admin port refused the token ({e.code}): check [admin] token") from e
        raise OSError(f"the admin port answered {e.code}") from e


def render(status: dict[str, Any]) -> str:
    lines = [f"ocsd {status.get('version', '?')}: {'ready' if status['ready'] else 'NOT READY'}"]
    lines += [f"  problem: {p}" for p in status["problems"]]
    for name, check in status["checks"].items():
        detail = ", ".join(f"{k}={v}" for k, v in check.items() if k not in ("ok", "error"))
        lines.append(f"  {name:<10} {'ok' if check['ok'] else 'FAIL'}{'  ' + detail if detail else ''}")
    lag = status.get("ledger_lag_seconds")
    lines.append(f"  ledger lag: {'unknown' if lag is None else f'{lag:g} s'}")
    held = status.get("accounts_with_reservations")
    lines.append(f"  accounts with reservations: {'unknown' if held is None else held}")
    peers = status.get("peers", [])
    lines.append(f"  peers ({len(peers)}):")
    for p in peers:
        seen = p["last_watchdog_seconds_ago"]
        lines.append(f"    {p['peer']:<32} {p['state']:<12} last seen {'never' if seen is None else f'{seen:g} s ago'}")
    return "\n".join(lines)


@click.command("status")
@config_option
@json_option
def status(config_path: str, as_json: bool) -> None:
    """Ask the running daemon (its admin port) whether it is ready, and about its peers and ledger."""
    config = load_or_exit(config_path, as_json=as_json)
    try:
        result = fetch_status(config)
    except PermissionError as e:
        fail(str(e), as_json=as_json)
    except OSError as e:
        fail(f"cannot reach the daemon at {admin_url(config, '')}: {getattr(e, 'reason', e)}", EXIT_UNAVAILABLE,
             as_json=as_json)
    click.echo(json.dumps(result) if as_json else render(result))
    if not result["ready"]:
        raise SystemExit(EXIT_UNAVAILABLE)


GROUPS = [status]
