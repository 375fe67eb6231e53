"""The `ocsd` command: run the daemon, check a configuration file, provision subscribers and money.

Exit codes: 0 success, 1 Redis or PostgreSQL could not be reached, 2 bad input, a refused operation or a bad
configuration (click's own usage errors also exit 2). Subcommands live in modules named for what they manage.
"""

from __future__ import annotations

import json
import sys

import click

from ocs import __version__
from ocs.cli.common import config_option, json_requested, load_or_exit, root_config_option, root_json_option


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="ocsd", message="%(prog)s %(version)s")
@root_config_option
@root_json_option
def cli(config_path: str | None, as_json: bool) -> None:
    """ocsd: online charging (Diameter Gy/Gx), HSS (S6a) and RADIUS for small operators.

    `-c FILE` and `--json` may come before or after the subcommand."""


@cli.command()
@config_option
@click.option("--trace", is_flag=True, help="Log every Diameter request and answer (as [log] trace = true).")
@click.option("--workers", type=click.IntRange(1, 64), default=None, metavar="N",
              help="Worker processes sharing the ports (as [daemon] workers).")
def run(config_path: str, trace: bool, workers: int | None) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT."""
    import dataclasses

    config = load_or_exit(config_path)
    if trace:
        config = dataclasses.replace(config, log=dataclasses.replace(config.log, trace=True))
    if workers is not None:
        config = dataclasses.replace(config, daemon=dataclasses.replace(config.daemon, workers=workers))
    from ocs.logs import configure_logging

    configure_logging(config.log.level, config.log.format)
    from ocs.daemon import run_daemon  # imported late: `ocsd config check` needs no event loop

    sys.exit(run_daemon(config))


@cli.group()
def config() -> None:
    """Configuration file tools."""


@config.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help='Print {"ok": true, ...} or {"ok": false, "error": "..."}.')
@click.option("--offline", is_flag=True, help="Only read the file: skip the key file, Redis and PostgreSQL.")
def config_check(config_path: str, as_json: bool, offline: bool) -> None:
    """Check a configuration file, then open the key file, reach Redis and PostgreSQL and check the schema
    version (unless --offline). Prints "ok", or each error naming its key or store (exit 2; 1 unreachable)."""
    from ocs.cli.database import config_check as check

    check(config_path, offline, as_json or json_requested())


def _register() -> None:
    from ocs.cli import (
        catalog_admin,
        charging,
        database,
        diameter,
        hotspot,
        payments,
        plans,
        sessions,
        sms,
        status,
        subscriber_admin,
        subscribers,
        tokens,
    )

    # these modules add commands to groups defined elsewhere (`db create`, `subscriber list|set`, `bundle
    # update|retire`, `tariff delete`)
    assert database.db_create and subscriber_admin.subscriber_set and catalog_admin.tariff_delete

    for group in (*subscribers.GROUPS, *charging.GROUPS, *status.GROUPS, *diameter.GROUPS,
                  *hotspot.GROUPS, *sessions.GROUPS, *plans.GROUPS, *tokens.GROUPS,
                  *sms.GROUPS, *payments.GROUPS):
        cli.add_command(group)


_register()


def main() -> None:
    """The `ocsd` entry point: click's own usage errors are JSON too under --json (same exit status, 2)."""
    try:
        result = cli.main(prog_name="ocsd", standalone_mode=False)
    except click.ClickException as e:
        if "--json" in sys.argv[1:]:
            click.echo(json.dumps({"ok": False, "error": e.format_message()}))
        else:
            e.show()
        sys.exit(e.exit_code)
    except click.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)


__all__ = ["cli", "main"]
