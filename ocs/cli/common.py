"""What every `ocsd` subcommand shares: the -c option, loading the config, opening Redis/PostgreSQL, and
turning a refusal into one line on stderr (or a JSON object) and exit status 2.

Exit codes: 0 success, 1 a backend could not be reached, 2 bad input, a refused operation or a bad config.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from typing import Any, NoReturn, TypeVar

import click

from ocs.config import Config, ConfigError, load_config

DEFAULT_CONFIG = "/etc/ocsd/ocsd.toml"
EXIT_UNAVAILABLE = 1
EXIT_REFUSED = 2

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

def _root_param(ctx: click.Context, name: str) -> Any:
    root = ctx.find_root()
    return root.params.get(name) if root is not ctx else None


def _config_value(ctx: click.Context, _param: click.Parameter, value: str | None) -> str:
    """`-c` after the subcommand, else `-c` before it (`ocsd -c FILE subscriber ...`), else $OCSD_CONFIG, else
    the default."""
    import os

    return value or _root_param(ctx, "config_path") or os.environ.get("OCSD_CONFIG") or DEFAULT_CONFIG


def _json_value(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    return bool(value or _root_param(ctx, "as_json"))


# Every command takes -c and --json; the root group takes them too (before the subcommand): either place works.
config_option = click.option(
    "-c", "--config", "config_path", default=None, callback=_config_value, metavar="FILE",
    help=f"Configuration file (TOML); also $OCSD_CONFIG [{DEFAULT_CONFIG}].")
json_option = click.option("--json", "as_json", is_flag=True, callback=_json_value,
                           help='Print one JSON document (errors too: {"ok": false, "error": ...}).')
root_config_option = click.option("-c", "--config", "config_path", default=None, metavar="FILE",
                                  help="Configuration file for the subcommand (also accepted after it).")
root_json_option = click.option("--json", "as_json", is_flag=True,
                                help="JSON output for the subcommand, errors included (also accepted after it).")


def money(minor: int, currency: str) -> str:
    """An amount in minor units as an operator reads it: `15.00 USD` (ISO 4217 minor-unit digits)."""
    from ocs.charging.currencies import format_major

    try:
        return f"{format_major(minor, currency)} {currency}"
    except ValueError:
        return f"{minor} (minor units) {currency}"


def amount_options(name: str = "amount", *, required: bool = True, what: str = "Amount") -> Callable[[F], F]:
    """`--NAME 15.00` (major units of the currency) or `--NAME-minor 1500` (integer minor units): exactly one
    (checked by `resolve_amount`, which needs the currency)."""
    def decorate(f: F) -> F:
        f = click.option(f"--{name}-minor", f"{name}_minor", type=int, metavar="MINOR",
                         help=f"{what} in minor units (1500 for 15.00 USD).")(f)
        return click.option(f"--{name}", name, metavar="DECIMAL",
                            help=f"{what} in the currency's major units (15.00)" + (
                                f"; or --{name}-minor." if required else "."))(f)
    return decorate


def resolve_amount(major: str | None, minor: int | None, currency: str, as_json: bool, name: str = "amount",
                   *, required: bool = True) -> int | None:
    """The amount in minor units from `--NAME` (major units of `currency`) or `--NAME-minor`."""
    from ocs.charging.currencies import parse_major

    if major is not None and minor is not None:
        fail(f"give --{name} or --{name}-minor, not both", as_json=as_json)
    if major is None and minor is None:
        if required:
            fail(f"give --{name} DECIMAL (e.g. 15.00) or --{name}-minor MINOR", as_json=as_json)
        return None
    if minor is not None:
        return minor
    assert major is not None
    try:
        return parse_major(major, currency)
    except ValueError as e:
        fail(f"--{name}: {e}", as_json=as_json)


def load_or_exit(path: str, *, as_json: bool = False) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        fail(str(e), as_json=as_json)


def json_requested() -> bool:
    """--json was given, before or after the subcommand (read from the running click context)."""
    ctx = click.get_current_context(silent=True)
    while ctx is not None:
        if ctx.params.get("as_json"):
            return True
        ctx = ctx.parent
    return False


def fail(message: str, code: int = EXIT_REFUSED, *, as_json: bool = False) -> NoReturn:
    """One line on stderr (`error: ...`), or `{"ok": false, "error": ...}` on stdout under --json; then exit."""
    if as_json or json_requested():
        click.echo(json.dumps({"ok": False, "error": message}))
    else:
        click.echo(f"error: {message}", err=True)
    sys.exit(code)


def emit(value: object, as_json: bool, text: Callable[[], str]) -> None:
    """Print `value` as JSON, or the human form `text()`."""
    click.echo(json.dumps(value, sort_keys=False) if as_json else text())


def run(main: Callable[[], Coroutine[Any, Any, T]]) -> T:
    return asyncio.run(main())


@contextlib.contextmanager
def logs_to_stderr() -> Iterator[None]:
    """While a command runs, structlog events (e.g. the rebuild's "rebuilt" lines) go to stderr, warnings and
    worse only: an unconfigured structlog prints to stdout, which must hold only the command's answer."""
    import structlog

    was_configured, saved = structlog.is_configured(), structlog.get_config()
    structlog.configure(processors=[structlog.processors.add_log_level, structlog.dev.ConsoleRenderer(colors=False)],
                        wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING),
                        logger_factory=structlog.PrintLoggerFactory(sys.stderr), cache_logger_on_first_use=False)
    try:
        yield
    finally:
        if was_configured:
            structlog.configure(**saved)
        else:
            structlog.reset_defaults()


async def with_backends(config: Config, body: Callable[[Any], Awaitable[T]]) -> T:
    """Open Redis, PostgreSQL and the sealer, run `body(backends)`, close them; a backend that cannot be reached
    or a missing key file ends the command with a one-line error."""
    with logs_to_stderr():
        return await _with_backends(config, body)


async def _with_backends(config: Config, body: Callable[[Any], Awaitable[T]]) -> T:
    import asyncpg
    import redis.exceptions

    from ocs.backends import open_backends
    from ocs.sealing import SealingError

    try:
        backends = await open_backends(config, max_connections=2)
    except SealingError as e:
        fail(str(e))
    except (OSError, redis.exceptions.RedisError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        fail(f"cannot reach Redis or PostgreSQL: {e}", EXIT_UNAVAILABLE)
    try:
        return await body(backends)
    finally:
        await backends.close()


__all__ = ["amount_options", "config_option", "emit", "fail", "json_option", "load_or_exit", "money",
           "resolve_amount", "root_config_option", "root_json_option", "run", "with_backends"]
