"""PostgreSQL schema migrations: `sql/NNN_name.sql` files applied once each, in order, in one transaction each.

Applied versions are kept in `schema_migrations`; an advisory lock serialises concurrent runs (two hosts
starting at once). A migration's checksum is recorded so that an edited, already applied file is reported.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from importlib import resources

import asyncpg

_NAME = re.compile(r"^(\d{3})_([a-z0-9_]+)\.sql$")
_LOCK_KEY = 0x0C5D_0001  # pg_advisory_lock key for migrations


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(Exception):
    pass


def available() -> list[Migration]:
    found = []
    for entry in resources.files("ocs.store").joinpath("sql").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text()))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions in {versions}")
    return found


async def migrate(conn: asyncpg.Connection, upto: int | None = None) -> list[Migration]:
    """Apply what is missing (up to version `upto`, for tests that build an older schema); return the
    migrations applied now."""
    await conn.execute("""
        CREATE TABLE IF NOT EXISTS schema_migrations (
            version integer PRIMARY KEY,
            name text NOT NULL,
            checksum text NOT NULL,
            applied_at timestamptz NOT NULL DEFAULT now())""")
    applied_now: list[Migration] = []
    await conn.execute("SELECT pg_advisory_lock($1)", _LOCK_KEY)
    try:
        rows = await conn.fetch("SELECT version, checksum FROM schema_migrations")
        done = {r["version"]: r["checksum"] for r in rows}
        for m in available():
            if upto is not None and m.version > upto:
                break
            if m.version in done:
                if done[m.version] != m.checksum:
                    raise MigrationError(f"migration {m.version:03d}_{m.name} was changed after it was applied")
                continue
            async with conn.transaction():
                await conn.execute(m.sql)
                await conn.execute("INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)",
                                   m.version, m.name, m.checksum)
            applied_now.append(m)
    finally:
        await conn.execute("SELECT pg_advisory_unlock($1)", _LOCK_KEY)
    return applied_now


async def pending(conn: asyncpg.Connection) -> list[Migration]:
    """The migrations this version has and the database has not applied (all of them on an empty database)."""
    exists = await conn.fetchval("SELECT to_regclass('schema_migrations') IS NOT NULL")
    done = {r["version"] for r in await conn.fetch("SELECT version FROM schema_migrations")} if exists else set()
    return [m for m in available() if m.version not in done]


def database_name(dsn: str) -> str | None:
    """The database a libpq URI names (`postgresql://user@host:port/NAME?...`), None when it names none."""
    from urllib.parse import unquote, urlsplit

    name = unquote(urlsplit(dsn).path.lstrip("/"))
    return name or None

