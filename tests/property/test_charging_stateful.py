"""Stateful property test of the money rules against the real Redis and PostgreSQL.

Random sequences of batches of top-ups, purchases, gifts, reservations, commits (and retransmitted commits),
releases and ledger flushes; each batch runs concurrently (asyncio.gather) on several accounts (the ops of a
batch touch distinct accounts, so their outcome does not depend on the order Redis runs them in). The
reference model `ocs.charging.rating.Engine` runs beside the Lua engine on the same operations: every result
(or refusal) must be the same, and after every step so must every balance, hold, bundle allowance, entry count
and ledger sum. After every step too: balances, holds and allowances are never negative; the ledger
(PostgreSQL rows + what Redis still holds) replays to exactly the Redis state (balance = sum of entries,
bundles = replayed allowances); entry numbers have no gaps. At the end the writer drains and PostgreSQL holds
exactly the Redis ledger.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

import asyncpg
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from ocs.charging import Allowances, BundleKind, ChargingError, InvalidRecipient
from ocs.charging.model import Unit
from ocs.charging.rating import Engine, dimension_for
from ocs.services.charging import ChargingService
from ocs.store.charging_redis import reservation_key
from ocs.store.ledger import LedgerWriter, ledger_entry, ledger_entry_from_row, replay
from ocs.store.redis_client import RedisStore
from tests.integration.conftest import REDIS_URL, create_database, drop_database

NOW = 1_700_000_000.0
SUBSCRIBERS = 4
RG_DATA, RG_VOICE = 1, 2
BUNDLES = {"small": (0, 300), "voice": (1, 50), "hybrid": (2, 120)}
ALLOWANCES = [Allowances(data_octets=4000), Allowances(voice_seconds=200), Allowances(3000, 100, 5, 2500)]
TARIFFS = {RG_DATA: (Unit.OCTETS, 1000, 3, 11), RG_VOICE: (Unit.SECONDS, 60, 7, 20)}   # unit, N, home, roaming
DAY = 86400

OPS = st.one_of(
    st.tuples(st.just("top_up"), st.integers(0, SUBSCRIBERS - 1), st.integers(1, 500), st.integers(0, 3)),
    st.tuples(st.just("purchase"), st.integers(0, SUBSCRIBERS - 1), st.sampled_from(sorted(BUNDLES))),
    st.tuples(st.just("gift"), st.integers(0, SUBSCRIBERS - 1), st.integers(0, SUBSCRIBERS - 1),
              st.sampled_from(sorted(BUNDLES))),
    st.tuples(st.just("reserve"), st.integers(0, SUBSCRIBERS - 1), st.integers(0, 2),
              st.sampled_from([RG_DATA, RG_VOICE]), st.integers(1, 5000), st.booleans()),
    st.tuples(st.just("commit"), st.integers(0, SUBSCRIBERS - 1), st.integers(0, 2),
              st.sampled_from([RG_DATA, RG_VOICE]), st.integers(0, 6000), st.booleans()),
    st.tuples(st.just("update"), st.integers(0, SUBSCRIBERS - 1), st.integers(0, 2),
              st.sampled_from([RG_DATA, RG_VOICE]), st.integers(0, 6000), st.integers(1, 5000), st.booleans()),
    st.tuples(st.just("release"), st.integers(0, SUBSCRIBERS - 1), st.integers(0, 2),
              st.sampled_from([RG_DATA, RG_VOICE])),
    st.tuples(st.just("adjust"), st.integers(0, SUBSCRIBERS - 1), st.integers(-300, 300).filter(bool)),
)


class Shared:
    """One database, pool and loop for all the machine's runs (a database per run would be slow)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.db = "ocsd_prop_" + secrets.token_hex(6)
        self.pool: asyncpg.Pool = self.loop.run_until_complete(self._setup())

    async def _setup(self) -> asyncpg.Pool:
        dsn = await create_database(self.db)
        pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
        async with pool.acquire() as conn:
            await conn.execute("INSERT INTO tariffs VALUES ($1, 'octets', 1000, 3, 11, 'EUR'), "
                               "($2, 'seconds', 60, 7, 20, 'EUR')", RG_DATA, RG_VOICE)
            for code, (i, price) in BUNDLES.items():
                a = ALLOWANCES[i]
                await conn.execute(
                    "INSERT INTO bundle_catalog (code, name, kind, data_octets, voice_seconds, sms_count, "
                    "roaming_data_octets, validity_days, priority, price, currency) "
                    "VALUES ($1, $1, $2, $3, $4, $5, $6, $7, $8, $9, 'EUR')",
                    code, [BundleKind.DATA, BundleKind.VOICE, BundleKind.HYBRID][i].value, a.data_octets,
                    a.voice_seconds, a.sms_count, a.roaming_data_octets, 1 + i, 10 * (3 - i), price)
        return pool

    def close(self) -> None:
        self.loop.run_until_complete(self.pool.close())
        self.loop.run_until_complete(drop_database(self.db))
        self.loop.close()


SHARED: Shared | None = None


def _dims(a: Allowances) -> dict[str, int]:
    return {"d": a.data_octets, "v": a.voice_seconds, "s": a.sms_count, "r": a.roaming_data_octets}


def _entry(account: str, result: tuple[int, ...]) -> tuple[Any, ...]:
    """The model's entry seq as the engine's entry id ('' when nothing changed)."""
    return (*result[:4], f"{account}:{result[4]}" if result[4] else "", *result[5:])


class ChargingMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        assert SHARED is not None
        self.shared = SHARED
        self.run(self._setup())

    def run(self, coro: Any) -> Any:
        return self.shared.loop.run_until_complete(coro)

    async def _setup(self) -> None:
        self.store = RedisStore(REDIS_URL, "ocsprop-" + secrets.token_hex(6))
        await self.store.start()
        self.service = ChargingService(self.store, self.shared.pool)
        await self.service.load()
        self.imsis = []
        self.model = Engine()
        for _ in range(SUBSCRIBERS):
            imsi = f"00102{secrets.randbelow(10**10):010d}"
            async with self.shared.pool.acquire() as conn:
                await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, '', '')",
                                   imsi, "8" + imsi[-10:])
            account = await self.service.open_account("EUR")
            await self.service.link_sim(account, imsi, "8" + imsi[-10:])
            self.imsis.append(account)   # the accounts (money is keyed by account id)
            self.model.open(account, "EUR")
        self.writer = LedgerWriter(self.store, self.shared.pool, block_ms=10)
        self.counter = 0
        # request id -> (imsi, charged, from bundles, from balance)
        self.commits: dict[str, tuple[str, int, int, int]] = {}
        self.clock = NOW

    def teardown(self) -> None:
        self.run(self._teardown())

    async def _teardown(self) -> None:
        try:
            pending = await self.stream_entries()
            await self.writer.drain()
            rows = await self.pg_entries()
            for entry_id, e in pending.items():
                r = rows[entry_id]
                assert (r.kind, r.amount, r.balance_after, r.ref, r.detail) == \
                    (e.kind, e.amount, e.balance_after, e.ref, e.detail)
            assert await self.stream_entries() == {}
            await self.check_ledger(rows)
        finally:
            client = self.store.client
            keys = [k async for k in client.scan_iter(match=self.store.prefix + ":*", count=5000)]
            for i in range(0, len(keys), 1000):
                await client.delete(*keys[i:i + 1000])
            await self.writer.stop(drain=False)
            await self.store.close()

    async def stream_entries(self) -> dict[str, Any]:
        out = {}
        for key in {self.store.slot_key(i, "ledger") for i in self.imsis}:
            for _, fields in await self.store.xrange(key):
                e = ledger_entry(fields)
                if e.account in self.imsis:
                    out[e.entry_id] = e
        return out

    async def pg_entries(self) -> dict[str, Any]:
        async with self.shared.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM ledger WHERE account_id = ANY($1::text[])", self.imsis)
        return {r["entry_id"]: ledger_entry_from_row(r) for r in rows}

    async def check_ledger(self, entries: dict[str, Any]) -> None:
        for imsi in self.imsis:
            view = await self.service.account(imsi)
            assert view.balance >= 0 and 0 <= view.held <= view.balance, view
            for b in view.bundles:
                for dim in ("data_octets", "voice_seconds", "sms_count", "roaming_data_octets"):
                    left, held = getattr(b.remaining, dim), getattr(b.held, dim)
                    assert 0 <= held <= left, b
            mine = sorted((e for e in entries.values() if e.account == imsi), key=lambda e: e.seq)
            seq = int(await self.store.hget(self.store.key(imsi, "acct"), "seq") or 0)
            assert [e.seq for e in mine] == list(range(1, seq + 1))
            assert sum(e.amount for e in mine) == view.balance
            state = replay(imsi, "EUR", mine, set())
            assert state.balance == view.balance
            model = self.model.accounts[imsi]   # the reference model agrees on every number
            assert (model.balance, model.held, model.seq, model.ledger_sum) == \
                (view.balance, view.held, seq, sum(e.amount for e in mine))
            assert {b.bundle_id: (_dims(b.remaining), _dims(b.held)) for b in view.bundles} == \
                {i: (b.left, b.held) for i, b in model.bundles.items()}
            assert {b.bundle_id: b.remaining for b in state.bundles} == {b.bundle_id: b.remaining for b in view.bundles}

    # ---- rules
    def _expected(self, op: tuple[Any, ...], n: int) -> Any:
        """What the reference model says `op` gives (a result tuple, or the class of the refusal)."""
        m, who = self.model, self.imsis[op[1]]
        now_s, now_ms = int(self.clock), int(self.clock * 1000)
        kind = op[0]
        try:
            if kind in ("top_up", "adjust"):
                ref = f"ref-{op[3]}-{op[2]}" if kind == "top_up" else f"adj-{n}"
                seq, balance, dup = m.money(who, "topup" if kind == "top_up" else "adjust", op[2], ref)
                return f"{who}:{seq}", balance, dup
            if kind == "purchase":
                i, price = BUNDLES[op[2]]
                bid, balance, dup = m.activate(who, "purchase", price, f"buy-{n}", op[2], 10 * (3 - i),
                                               now_s + (1 + i) * DAY, _dims(ALLOWANCES[i]))
                return f"{who}:{bid}", bid, balance, dup
            if kind == "gift":
                to = self.imsis[op[2]]
                if to == who:
                    raise InvalidRecipient("a gift to oneself")
                i, price = BUNDLES[op[3]]
                out, _, _ = m.money(who, "gift_out", -price, f"gift-{n}")
                bid, _, _ = m.activate(to, "gift_in", 0, f"gift-{n}", op[3], 10 * (3 - i), now_s + (1 + i) * DAY,
                                       _dims(ALLOWANCES[i]))
                return f"{who}:{out}", f"{to}:{bid}", bid
            unit, size, home, roaming = TARIFFS[op[3]]
            rkey = reservation_key(f"sess{op[2]}", op[3])
            roam = op[-1] if kind != "release" else False
            dim = dimension_for(unit, roam)
            d, price = dim.value if dim else "", roaming if roam else home
            if kind == "reserve":
                return m.reserve(who, rkey, op[4], d, size, price, "EUR", now_s, now_ms)
            if kind == "commit":
                return _entry(who, m.commit(who, rkey, op[4], d, size, price, "EUR", now_s, f"sess{op[2]}:{op[3]}:{n}"))
            if kind == "update":
                return _entry(who, m.update(who, rkey, op[4], op[5], d, size, price, "EUR", now_s, now_ms,
                                            f"sess{op[2]}:{op[3]}:{n}"))
            return m.release(who, rkey)
        except ChargingError as e:
            return type(e)

    async def _op(self, op: tuple[Any, ...], n: int) -> Any:
        s = self.service
        kind, who = op[0], self.imsis[op[1]]
        try:
            if kind == "top_up":
                r = await s.top_up(who, op[2], f"ref-{op[3]}-{op[2]}")
                return r.entry_id, r.balance, r.duplicate
            if kind == "adjust":
                r = await s.adjust(who, op[2], f"adj-{n}")
                return r.entry_id, r.balance, r.duplicate
            if kind == "purchase":
                p = await s.purchase(who, op[2], f"buy-{n}", now=self.clock)
                return p.entry_id, p.bundle_id, p.balance, p.duplicate
            if kind == "gift":
                g = await s.gift(who, self.imsis[op[2]], op[3], f"gift-{n}", now=self.clock)
                return g.sender_entry, g.recipient_entry, g.bundle_id
            if kind == "reserve":
                grant = await s.reserve(who, f"sess{op[2]}", op[3], op[4], roaming=op[5], now=self.clock)
                return grant.granted, grant.from_bundles, grant.from_balance, grant.money_held
            if kind == "commit":
                request = f"sess{op[2]}:{op[3]}:{n}"
                result = await s.commit(who, f"sess{op[2]}", op[3], op[4], request, roaming=op[5], now=self.clock)
                assert result.charged >= 0 and result.unpaid >= 0 and not result.duplicate
                self.commits[request] = (who, result.charged, result.from_bundles, result.from_balance)
                return (result.charged, result.from_bundles, result.from_balance, result.unpaid, result.entry_id,
                        int(result.duplicate))
            if kind == "update":
                request = f"sess{op[2]}:{op[3]}:{n}"
                updated = await s.update(who, f"sess{op[2]}", op[3], op[4], op[5], request, roaming=op[6],
                                         now=self.clock)
                result, g = updated.committed, updated.grant
                assert result.charged >= 0 and result.unpaid >= 0 and not result.duplicate
                assert g is None or 0 < g.granted <= op[5]
                self.commits[request] = (who, result.charged, result.from_bundles, result.from_balance)
                return (result.charged, result.from_bundles, result.from_balance, result.unpaid, result.entry_id,
                        int(result.duplicate), *((g.granted, g.from_bundles, g.from_balance, g.money_held) if g
                                                 else (0, 0, 0, 0)))
            return await s.release(who, f"sess{op[2]}", op[3])
        except ChargingError as e:
            return type(e)

    @rule(ops=st.lists(OPS, min_size=1, max_size=8))
    def concurrent_batch(self, ops: list[tuple[Any, ...]]) -> None:
        batch, touched = [], set()
        for op in ops:   # ops on distinct accounts: the outcome does not depend on their order
            mine = {op[1], op[2]} if op[0] == "gift" else {op[1]}
            if not mine & touched:
                touched |= mine
                self.counter += 1
                batch.append((op, self.counter))

        async def go() -> list[Any]:
            return list(await asyncio.gather(*(self._op(op, n) for op, n in batch)))
        actual = self.run(go())
        expected = [self._expected(op, n) for op, n in batch]
        assert actual == expected, (batch, actual, expected)

    @rule(data=st.data())
    def retransmit_commit(self, data: st.DataObject) -> None:
        if not self.commits:
            return
        request = data.draw(st.sampled_from(sorted(self.commits)))
        who, charged, from_b, from_bal = self.commits[request]
        session, rg, _ = request.split(":")
        before = self.run(self.service.account(who))
        again = self.run(self.service.commit(who, session, int(rg), 999_999, request, now=self.clock))
        assert again.duplicate
        assert (again.charged, again.from_bundles, again.from_balance) == (charged, from_b, from_bal)
        assert self.run(self.service.account(who)) == before
        modelled = self.model.commit(who, reservation_key(session, int(rg)), 999_999, "d", 1, 1, "EUR",
                                     int(self.clock), request)
        assert modelled[:3] == (charged, from_b, from_bal) and modelled[5] == 1

    @rule()
    def flush_ledger(self) -> None:
        self.run(self.writer.drain())

    @rule(days=st.integers(1, 3))
    def time_passes(self, days: int) -> None:
        self.clock += days * 86400
        self.run(self.service.expire_bundles(now=self.clock))
        for account in self.imsis:
            self.model.expire(account, int(self.clock))

    @invariant()
    def ledger_matches_state(self) -> None:
        async def check() -> None:
            entries = await self.pg_entries()
            entries.update(await self.stream_entries())
            await self.check_ledger(entries)
        self.run(check())


def test_charging_state_machine() -> None:
    global SHARED
    SHARED = Shared()
    try:
        run_state_machine_as_test(ChargingMachine, settings=settings(
            max_examples=25, stateful_step_count=15, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        SHARED.close()
        SHARED = None
