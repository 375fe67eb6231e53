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

config_option = click.option(
    "-c", "--config", "config_path", default=DEFAULT_CONFIG, show_default=True, envvar="OCSD_CONFIG",
    metavar="FILE", help="Configuration file (TOML); also $OCSD_CONFIG.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON document.")


def load_or_exit(path: str, *, as_json: bool = False) -> Config:
    try:
        return load_config(path)
    except ConfigError as e:
        fail(str(e), as_json=as_json)


def fail(message: str, code: int = EXIT_REFUSED, *, as_json: bool = False) -> NoReturn:
    if as_json:
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


__all__ = ["config_option", "emit", "fail", "json_option", "load_or_exit", "run", "with_backends"]
