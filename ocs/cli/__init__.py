"""The `ocsd` command: run the daemon, check a configuration file, provision subscribers and money.

Exit codes: 0 success, 1 Redis or PostgreSQL could not be reached, 2 bad input, a refused operation or a bad
configuration (click's own usage errors also exit 2). Subcommands live in modules named for what they manage.
"""

from __future__ import annotations

import json
import sys

import click

from ocs import __version__
from ocs.cli.common import config_option, load_or_exit
from ocs.config import ConfigError, load_config


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-V", "--version", prog_name="ocsd", message="%(prog)s %(version)s")
def cli() -> None:
    """ocsd: online charging (Diameter Gy/Gx), HSS (S6a) and RADIUS for small operators."""


@cli.command()
@config_option
def run(config_path: str) -> None:
    """Run the daemon in the foreground until SIGTERM or SIGINT."""
    config = load_or_exit(config_path)
    from ocs.logs import configure_logging

    configure_logging(config.log.level, config.log.format)
    from ocs.daemon import run_daemon  # imported late: `ocsd config check` needs no event loop

    sys.exit(run_daemon(config))


@cli.group()
def config() -> None:
    """Configuration file tools."""


@config.command("check")
@config_option
@click.option("--json", "as_json", is_flag=True, help='Print {"ok": true} or {"ok": false, "error": "..."}.')
def config_check(config_path: str, as_json: bool) -> None:
    """Check a configuration file: prints "ok", or the first error naming its key (exit 2)."""
    try:
        load_config(config_path)
    except ConfigError as e:
        if as_json:
            click.echo(json.dumps({"ok": False, "error": str(e)}))
        else:
            click.echo(f"error: {e}", err=True)
        sys.exit(2)
    click.echo(json.dumps({"ok": True}) if as_json else "ok")


def _register() -> None:
    from ocs.cli import charging, sessions, subscribers

    for group in (*subscribers.GROUPS, *charging.GROUPS, *sessions.GROUPS):
        cli.add_command(group)


_register()


def main() -> None:
    cli(prog_name="ocsd")


__all__ = ["cli", "main"]
