"""Health that tells the truth (issue 13 point 1): liveness, readiness and the status an operator reads.

`/healthz` is liveness: the event loop answered, nothing else is asked. `/readyz` asks each dependency in turn
and answers 200 only when all are well, else 503 with the same JSON body naming what is wrong (Kubernetes'
convention for readiness probes; systemd and load balancers read the status code):

    {"ready": false, "problems": ["redis: Connection refused"], "checks": {"redis": {"ok": false, ...}, ...}}

The checks: Redis answers PING, PostgreSQL answers `SELECT 1` (each within its configured `timeout`), every
configured Diameter listener is serving, and the ledger lag — the age of the oldest ledger entry still in the
Redis streams, i.e. not yet confirmed by PostgreSQL (entry ids are millisecond timestamps, ocs.store.ledger) —
is under `[admin] ledger_lag_limit`. A daemon without stores (no applications, no [redis]/[postgres]) has
only the listener check. `/api/v1/status` (token) adds the peers (state, seconds since the last message that
proved them alive), the accounts holding reservations, and the version.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.responses import JSONResponse

from ocs import __version__
from ocs.admin.auth import Reader
from ocs.backends import Backends
from ocs.transport.diameter import DiameterServer


@dataclass
class Health:
    diameter: DiameterServer | None
    backends: Backends | None
    redis_timeout: float = 2.0
    pg_timeout: float = 2.0
    ledger_lag_limit: float = 60.0
    listen: tuple[str, ...] = ()  # the configured Diameter listeners, as written in the config

    async def _redis(self) -> dict[str, Any]:
        assert self.backends is not None
        async with asyncio.timeout(self.redis_timeout):
            await self.backends.redis.client.ping()
        return {"ok": True}

    async def _postgres(self) -> dict[str, Any]:
        assert self.backends is not None
        async with asyncio.timeout(self.pg_timeout):
            await self.backends.pool.fetchval("SELECT 1")
        return {"ok": True}

    async def ledger_lag(self) -> float:
        """Seconds since the oldest entry still waiting in the ledger streams was written; 0 when none waits."""
        assert self.backends is not None
        store = self.backends.redis
        async with asyncio.timeout(self.redis_timeout):
            pipe = store.client.pipeline(transaction=False)
            for key in store.slot_keys("ledger"):
                pipe.xrange(key, "-", "+", count=1)
            replies = await pipe.execute()
        oldest = [int(str(r[0][0]).split("-")[0]) for r in replies if r]
        return max(0.0, time.time() - min(oldest) / 1000) if oldest else 0.0

    async def _ledger(self) -> dict[str, Any]:
        lag = round(await self.ledger_lag(), 3)
        ok = lag < self.ledger_lag_limit
        result: dict[str, Any] = {"ok": ok, "lag_seconds": lag, "limit_seconds": self.ledger_lag_limit}
        if not ok:
            result["error"] = f"lag {lag:g} s is over the limit of {self.ledger_lag_limit:g} s"
        return result

    def _listeners(self) -> dict[str, Any]:
        servers = self.diameter.servers if self.diameter is not None else []
        serving = sum(1 for s in servers if s.is_serving())
        ok = serving == len(self.listen)
        result: dict[str, Any] = {"ok": ok, "configured": len(self.listen), "serving": serving}
        if not ok:
            result["error"] = f"{serving} of {len(self.listen)} Diameter listeners serving"
        return result

    async def readiness(self) -> dict[str, Any]:
        checks: dict[str, dict[str, Any]] = {"listeners": self._listeners()}
        if self.backends is not None:
            for name, check in (("redis", self._redis), ("postgres", self._postgres), ("ledger", self._ledger)):
                try:
                    checks[name] = await check()
                except Exception as e:  # any failure of a dependency is "not ready", named in the body
                    error = str(e) or ("timed out" if isinstance(e, TimeoutError) else type(e).__name__)
                    checks[name] = {"ok": False, "error": error}
        problems = [f"{name}: {c['error']}" for name, c in checks.items() if not c["ok"]]
        return {"ready": not problems, "problems": problems, "checks": checks}

    def peers(self) -> list[dict[str, Any]]:
        if self.diameter is None:
            return []
        node, now = self.diameter.node, self.diameter.loop.time()
        rows = []
        for entry in node.peer_entries():
            seen = entry.watchdog.last_received if entry.watchdog is not None else None
            rows.append({"peer": entry.name, "state": entry.state.value,
                         "last_watchdog_seconds_ago": round(now - seen, 3) if seen is not None else None})
        return rows

    async def open_reservation_accounts(self) -> int | None:
        """Accounts holding at least one reservation (live credit-control sessions hold one each)."""
        if self.backends is None:
            return None
        store = self.backends.redis
        try:
            async with asyncio.timeout(self.redis_timeout):
                pipe = store.client.pipeline(transaction=False)
                for key in store.slot_keys("rsvidx"):
                    pipe.zcard(key)
                return int(sum(await pipe.execute()))
        except Exception:
            return None

    async def status(self) -> dict[str, Any]:
        ready = await self.readiness()
        ledger = ready["checks"].get("ledger", {})
        return {**ready, "version": __version__, "peers": self.peers(),
                "accounts_with_reservations": await self.open_reservation_accounts(),
                "ledger_lag_seconds": ledger.get("lag_seconds")}

    def add_routes(self, app: FastAPI) -> None:
        @app.get("/readyz", tags=["health"], responses={503: {"description": "not ready (same body)"}})
        async def readyz() -> JSONResponse:
            """Readiness: 200 when Redis, PostgreSQL, the listeners and the ledger lag are well, else 503 (public)."""
            body = await self.readiness()
            return JSONResponse(body, status_code=HTTPStatus.OK if body["ready"] else HTTPStatus.SERVICE_UNAVAILABLE)

        @app.get("/api/v1/status", tags=["health"])
        async def status(_who: Reader) -> dict[str, Any]:
            """Readiness plus peers, accounts holding reservations, ledger lag and version."""
            return await self.status()


__all__ = ["Health"]
