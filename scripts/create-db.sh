#!/usr/bin/env bash
# Create a PostgreSQL database if it does not exist: scripts/create-db.sh NAME [ADMIN_DSN]
# ADMIN_DSN defaults to $OCSD_TEST_PG_DSN or postgresql://postgres@127.0.0.1:5432/postgres.
# Uses the venv's asyncpg, so no psql is needed.
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/create-db.sh NAME [ADMIN_DSN]}
dsn=${2:-${OCSD_TEST_PG_DSN:-postgresql://postgres@127.0.0.1:5432/postgres}}
PYTHON=${PYTHON:-.venv/bin/python}

"$PYTHON" - "$name" "$dsn" <<'PY'
import asyncio
import sys

import asyncpg

name, dsn = sys.argv[1], sys.argv[2]


async def main() -> None:
    conn = await asyncpg.connect(dsn)
    try:
        if await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name):
            print(f"database {name} exists")
            return
        await conn.execute(f'CREATE DATABASE "{name}"')
        print(f"database {name} created")
    finally:
        await conn.close()


asyncio.run(main())
PY
