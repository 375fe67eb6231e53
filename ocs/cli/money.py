"""What the money commands share: whose money (`--account ID` | `--imsi IMSI` | `--msisdn MSISDN`, exactly one,
the same on every money command), bounded references, running a ChargingService call with one-line refusals
(exit 2), and text tables.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ocs.charging.model import MAX_REF
from ocs.cli.common import EXIT_UNAVAILABLE, fail, run, with_backends
from ocs.provisioning import InvalidSubscriber
from ocs.provisioning import imsi as check_imsi
from ocs.provisioning import msisdn as check_msisdn

F = TypeVar("F", bound=Callable[..., Any])


def account_options(f: F) -> F:
    """`--account ID` / `--imsi IMSI` / `--msisdn MSISDN`: whose money, exactly one of them (checked by `parse_who`).
    The same on every money command."""
    f = click.option("--msisdn", metavar="MSISDN", help="A SIM's MSISDN: its account (or give --account/--imsi).")(f)
    f = click.option("--imsi", metavar="IMSI", help="A SIM's IMSI: its account (or give --account/--msisdn).")(f)
    return click.option("--account", metavar="ID", help="The account id (or give --imsi/--msisdn).")(f)


class Who:
    """An account named on the command line: by id (used as is), or by a SIM's IMSI or MSISDN (looked up in the
    Redis identity index)."""

    def __init__(self, account: str | None, imsi: str | None, msisdn: str | None) -> None:
        self.account = account
        self.imsi = imsi
        self.msisdn = msisdn

    def __str__(self) -> str:
        return self.account or self.imsi or self.msisdn or ""

    def as_json(self) -> dict[str, str]:
        """How it was named: {"imsi": ...} or {"msisdn": ...} ({} for an account id)."""
        return {"imsi": self.imsi} if self.imsi else {"msisdn": self.msisdn} if self.msisdn else {}


def check_msisdn_option(value: str, option: str, as_json: bool) -> str:
    try:
        return check_msisdn(value)
    except InvalidSubscriber as e:
        fail(f"--{option}: {str(e).partition(': ')[2]}", as_json=as_json)


def parse_who(account: str | None, imsi: str | None, msisdn: str | None, as_json: bool) -> Who:
    """Check the --account/--imsi/--msisdn options: exactly one of them, well formed."""
    from ocs.charging.model import check_account_id

    given = [name for name, v in (("account", account), ("imsi", imsi), ("msisdn", msisdn)) if v is not None]
    if len(given) != 1:
        fail("give exactly one of --account, --imsi or --msisdn" + (f" (got --{' and --'.join(given)})"
                                                                     if given else ""), as_json=as_json)
    if account is not None:
        try:
            return Who(check_account_id(account), None, None)
        except ValueError as e:
            fail(f"--account: {e}", as_json=as_json)
    if imsi is not None:
        try:
            return Who(None, check_imsi(imsi), None)
        except InvalidSubscriber as e:
            fail(f"--{e}", as_json=as_json)
    assert msisdn is not None
    return Who(None, None, check_msisdn_option(msisdn, "msisdn", as_json))


async def account_of(charging: Any, who: Who) -> str:
    """The account id of `who` (an IMSI or MSISDN is looked up in the Redis identity index)."""
    if who.account is not None:
        return who.account
    if who.imsi is not None:
        return str(await charging.account_of_imsi(who.imsi))
    return str(await charging.account_of_msisdn(who.msisdn))


def check_ref(value: str | None, as_json: bool, option: str = "ref") -> str | None:
    """A caller reference: at most 128 printable characters (it is stored with every ledger entry)."""
    if value is not None and not (0 < len(value) <= MAX_REF and value.isprintable()):
        fail(f"--{option}: a reference is 1 to {MAX_REF} printable characters", as_json=as_json)
    return value


async def open_charging(backends: Any) -> Any:
    from ocs.services.charging import ChargingService

    charging = ChargingService(backends.redis, backends.pool)
    await charging.load()
    return charging


def call(config: Any, as_json: bool, body: Callable[[Any], Any]) -> Any:
    """Run `body(charging)` with the backends open; a ChargingError (or a value the model refuses) becomes
    one line and exit status 2."""
    import asyncpg
    import redis.exceptions

    from ocs.charging.errors import ChargingError

    async def main(backends: Any) -> Any:
        try:
            charging = await open_charging(backends)
            return await body(charging)
        except (ChargingError, ValueError) as e:
            fail(str(e), as_json=as_json)
        except asyncpg.UndefinedTableError:
            fail("the PostgreSQL database has no ocsd schema: run `ocsd db migrate` first", as_json=as_json)
        except (OSError, redis.exceptions.RedisError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            fail(f"lost Redis or PostgreSQL: {e}", EXIT_UNAVAILABLE, as_json=as_json)

    return run(lambda: with_backends(config, main))


def table(header: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    """Left-aligned text columns, numbers right-aligned."""
    if not rows:
        return empty
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(isinstance(r[i], int) for r in rows) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def iso_ms(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")

