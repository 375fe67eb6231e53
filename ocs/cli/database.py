"""`ocsd db create` and the online part of `ocsd config check` (issue 13 point 4).

`db create` creates the configured database when it is missing (connecting to the server's `postgres`
database, as `createdb` does), then applies the migrations. `config check` (without `--offline`) also opens
the key file, pings Redis, connects to PostgreSQL and compares the schema with this version's migrations: an
unmigrated database is one line naming the command to run, never a traceback.

Exit codes as everywhere: 0 ok, 1 Redis or PostgreSQL unreachable, 2 a bad config, key file or schema.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import click

from ocs.cli.common import EXIT_REFUSED, EXIT_UNAVAILABLE, config_option, emit, fail, json_option, load_or_exit, run
from ocs.cli.subscribers import db
from ocs.config import Config

CONNECT_TIMEOUT = 5.0


@db.command("create")
@config_option
@json_option
def db_create(config_path: str, as_json: bool) -> None:
    """Create the configured PostgreSQL database if it is missing, then apply the migrations."""
    config = load_or_exit(config_path)

    async def main() -> tuple[bool, list[str]]:
        import asyncpg

        from ocs.store.migrations import MigrationError, database_name, migrate

        name = database_name(config.postgres.dsn)
        if name is None:
            fail("postgres.dsn names no database (postgresql://user@host:port/NAME)", as_json=as_json)
        created = False
        try:
            try:
                conn = await asyncpg.connect(config.postgres.dsn, timeout=CONNECT_TIMEOUT)
            except asyncpg.InvalidCatalogNameError:
                admin = await asyncpg.connect(config.postgres.dsn, database="postgres", timeout=CONNECT_TIMEOUT)
                try:
                    await admin.execute(f'CREATE DATABASE "{name.replace(chr(34), chr(34) * 2)}"')
                    created = True
                except asyncpg.DuplicateDatabaseError:
                    pass  # created meanwhile by someone else: fine
                finally:
                    await admin.close()
                conn = await asyncpg.connect(config.postgres.dsn, timeout=CONNECT_TIMEOUT)
        except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            fail(f"cannot reach PostgreSQL: {e}", EXIT_UNAVAILABLE, as_json=as_json)
        try:
            return created, [f"{m.version:03d}_{m.name}" for m in await migrate(conn)]
        except MigrationError as e:
            fail(str(e), as_json=as_json)
        finally:
            await conn.close()

    created, applied = run(main)
    name = config.postgres.dsn.rpartition("/")[2].partition("?")[0]
    emit({"ok": True, "created": created, "applied": applied}, as_json,
         lambda: "\n".join([f"created database {name}" if created else f"database {name} exists",
                            *(f"applied {a}" for a in applied)] + ([] if applied else ["schema is up to date"])))


async def reachability(config: Config) -> tuple[dict[str, Any], int]:
    """Each online check as {"ok": bool, ...}, and the exit status they add up to."""
    import asyncpg

    from ocs.backends import store_for
    from ocs.sealing import SealingError, sealer_for
    from ocs.store.migrations import pending

    checks: dict[str, Any] = {}
    code = 0
    if config.keys.file is not None or config.keys.demo or config.diameter.applications:
        try:
            sealer_for(config.keys)
            checks["keys"] = {"ok": True, "source": "demo key" if config.keys.file is None else config.keys.file}
        except SealingError as e:
            checks["keys"] = {"ok": False, "error": str(e)}
            code = EXIT_REFUSED
    redis = store_for(config)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT):
            await redis.client.ping()
        checks["redis"] = {"ok": True}
    except Exception as e:  # any failure to answer is "unreachable", reported in one line
        checks["redis"] = {"ok": False, "error": f"cannot reach Redis at {config.redis.url}: {e or type(e).__name__}"}
        code = code or EXIT_UNAVAILABLE
    finally:
        await redis.close()
    try:
        conn = await asyncpg.connect(config.postgres.dsn, timeout=CONNECT_TIMEOUT)
    except (OSError, TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        hint = " (create it with `ocsd db create`)" if isinstance(e, asyncpg.InvalidCatalogNameError) else ""
        checks["postgres"] = {"ok": False, "error": f"cannot reach PostgreSQL: {e}{hint}"}
        return checks, code or EXIT_UNAVAILABLE
    try:
        missing = await pending(conn)
    finally:
        await conn.close()
    if missing:
        names = ", ".join(f"{m.version:03d}_{m.name}" for m in missing)
        checks["postgres"] = {"ok": False, "error": f"the schema lacks {len(missing)} migration"
                              f"{'' if len(missing) == 1 else 's'} ({names}): run `ocsd db migrate`"}
        code = code or EXIT_REFUSED
    else:
        checks["postgres"] = {"ok": True}
    return checks, code


def config_check(config_path: str, offline: bool, as_json: bool) -> None:
    config = load_or_exit(config_path, as_json=as_json)
    if offline:
        click.echo(json.dumps({"ok": True}) if as_json else "ok")
        return
    checks, code = run(lambda: reachability(config))
    ok = code == 0
    if as_json:
        click.echo(json.dumps({"ok": ok, "checks": checks} if ok else
                              {"ok": False, "error": "; ".join(c["error"] for c in checks.values() if not c["ok"]),
                               "checks": checks}))
    else:
        for name, c in checks.items():
            if not c["ok"]:
                click.echo(f"error: {name}: {c['error']}", err=True)
        if ok:
            click.echo("ok")
    if not ok:
        raise SystemExit(code)


__all__ = ["config_check", "db_create", "reachability"]
