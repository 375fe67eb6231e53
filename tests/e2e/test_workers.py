"""`ocsd run --workers 2` (issue 19): two worker processes share the Diameter and admin ports (SO_REUSEPORT), one
holds the housekeeping lease; a Gy session started over a connection of worker 1 continues over one of worker 2;
a RAR and an ASR for a session whose peer is connected to the other worker reach that peer; kill -9 of a worker
under CCR load loses no charge and charges no retransmission twice (totals checked against the ledger)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from tests.e2e.test_gy import GRANT, RG_DATA, ocsd_cli, wait_for
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.gy_pgw import (
    INITIAL,
    TERMINATION,
    UPDATE,
    Pgw,
    account_view,
    by_rg,
    data_tariff,
    mscc,
    provision,
    run,
)
from tests.support.redis_cluster import delete_prefix

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

PEERS = ["pgw.test", "pgw2.test", "pgw3.test", "pgw4.test"]


@dataclass
class Workers:
    daemon: DaemonProcess
    port: int
    dsn: str
    prefix: str
    config: Path

    def pids(self) -> dict[int, int]:
        """worker number -> pid of the live workers (from their `started` lines, the latest per worker)."""
        out: dict[int, int] = {}
        for line in self.daemon.lines:
            if line.get("event") == "started":
                out[int(line["worker"])] = int(line["pid"])  # type: ignore[arg-type]
        return {w: p for w, p in out.items() if _alive(p)}

    def worker_of(self, peer: str, after: int = 0) -> int:
        line = self.daemon.wait_for("peer-up", after=after)
        while line.get("peer") != peer:
            after = self.daemon.lines.index(line) + 1
            line = self.daemon.wait_for("peer-up", after=after)
        return int(line["worker"])  # type: ignore[arg-type]

    def balance(self, account: str) -> tuple[int, int]:
        view = run(account_view(REDIS_URL, self.prefix, account))
        return view.balance, view.held


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.fixture(scope="module")
def workers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """One `--workers 2` daemon for the module (the kill test runs last: its victim is started again)."""
    tmp_path = tmp_path_factory.mktemp("workers")
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=PEERS, diameter_port=port, admin_port=free_port(),
                          applications=("gy",), extra=backends_config(REDIS_URL, prefix, dsn) + f"""
[charging]
currency = "EUR"
reap_interval = 0.5
reservation_max_age = 2

[gy]
default_rating_group = {RG_DATA}
grant_octets = {GRANT}
validity_time = 600

[daemon]
workers = 2
lease_ttl = 2
restart_delay = 0.5
""")
    run(provision(REDIS_URL, prefix, dsn, balance=0, tariffs=[data_tariff(RG_DATA)]))
    w = Workers(DaemonProcess(config, module="ocsd"), port, dsn, prefix, config)
    try:
        w.daemon.start()
        w.daemon.wait_for("workers-ready")
        yield w
    finally:
        pids = w.pids()
        with contextlib.suppress(AssertionError):
            w.daemon.stop()
        for pid in pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        w.daemon.kill()
        asyncio.run(drop_database(name))
        delete_prefix(REDIS_URL, prefix)


def connect_on_other_worker(w: Workers, first: int) -> tuple[Pgw, int]:
    """A PGW whose connection the kernel gave to another worker than `first`: three connect at once, the first
    on another worker is kept (all three on `first`: 1 in 8 with 2 workers; then again)."""
    for _ in range(4):
        seen = len(w.daemon.lines)
        pgws = [Pgw(w.port, origin_host=peer) for peer in PEERS[1:]]
        on = [w.worker_of(p.origin_host, seen) for p in pgws]
        keep = next((i for i, worker in enumerate(on) if worker != first), None)
        for i, p in enumerate(pgws):
            if i != keep:
                p.stop()
        if keep is not None:
            return pgws[keep], on[keep]
        time.sleep(0.5)
    raise AssertionError("every connection went to the same worker")


def test_session_moves_between_workers_and_server_requests_reach_the_other_worker(workers: Workers) -> None:
    w = workers
    assert sorted(w.pids()) == [1, 2]
    w.daemon.wait_for("lease-acquired")
    holders = [line for line in w.daemon.lines if line.get("event") == "lease-acquired"]
    assert len(holders) == 1  # the ledger writer and housekeeping run in exactly one worker
    imsi, _, account = run(provision(REDIS_URL, w.prefix, w.dsn, balance=150))
    seen = len(w.daemon.lines)
    one = Pgw(w.port, origin_host=PEERS[0])
    first = w.worker_of(PEERS[0], seen)
    two, second = connect_on_other_worker(w, first)
    try:
        s = one.session()
        assert one.send(one.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)])).result_code == 2001
        # continued over the other worker's connection: the state is in Redis
        cca = two.send(two.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=GRANT)]))
        assert cca.result_code == 2001 and by_rg(cca)[RG_DATA].final_unit_indication is not None
        assert w.balance(account) == (50, 50)
        # a top-up from the CLI: the RAR goes to the session's peer, whichever worker holds its connection
        before = len(two.received) + len(one.received)
        ocsd_cli(w.config, "account", "topup", "--account", account, "--amount", "5.00", "--ref", "t1")
        got = wait_for(lambda: [m for m in one.received + two.received if m.header.command_code == 258])
        assert [m.session_id for m in got] == [s] and len(one.received) + len(two.received) == before + 1
        answer = ocsd_cli(w.config, "session", "terminate", s)
        assert answer["ok"] and answer["result"] == 2001
        asrs = [m for m in one.received + two.received if m.header.command_code == 274]
        assert [m.session_id for m in asrs] == [s]
        assert two.send(two.ccr(s, TERMINATION, 2, mscc=[mscc(RG_DATA, requested=False, used=0)])
                        ).result_code == 2001
        assert w.balance(account) == (550, 0)
    finally:
        one.stop()
        two.stop()


def ledger_sum(dsn: str, account: str) -> tuple[int, int]:
    async def q() -> tuple[int, int]:
        conn = await asyncpg.connect(dsn)
        try:
            row = await conn.fetchrow("SELECT count(*), coalesce(sum(amount), 0) FROM ledger WHERE account_id = $1",
                                      account)
            return int(row[0]), int(row[1])
        finally:
            await conn.close()

    return run(q())


def test_kill_9_of_a_worker_under_ccr_load(workers: Workers) -> None:
    w = workers
    imsi, _, account = run(provision(REDIS_URL, w.prefix, w.dsn, balance=100_000))
    seen = len(w.daemon.lines)
    one = Pgw(w.port, origin_host=PEERS[0])
    victim = w.worker_of(PEERS[0], seen)
    two, survivor = connect_on_other_worker(w, victim)
    for peer in one.node.peers.values():
        peer.reconnect_wait = 1  # python-diameter waits 30 s before reconnecting by default
    stop = threading.Event()
    results: dict[str, list[Any]] = {}
    abandoned: list[tuple[str, int]] = []

    def load(pgw: Pgw, tag: str) -> None:
        """Sessions of CCR-I, two CCR-U and CCR-T; a request without an answer (its worker died) is sent again,
        same Session-Id and CC-Request-Number with the T flag (RFC 6733 §5.5.4), once the PGW has reconnected."""
        while not stop.is_set():
            s = pgw.session()
            steps = [(INITIAL, 0, mscc(RG_DATA)), (UPDATE, 1, mscc(RG_DATA, used=GRANT // 2)),
                     (UPDATE, 2, mscc(RG_DATA, used=GRANT)), (TERMINATION, 3, mscc(RG_DATA, requested=False, used=0))]
            for kind, n, m in steps:
                request = pgw.ccr(s, kind, n, imsi=imsi if kind == INITIAL else None, mscc=[m])
                deadline = time.monotonic() + 25
                attempt = 0
                while time.monotonic() < deadline:  # the PGW reconnects (to a live worker) and sends again
                    try:
                        if attempt:
                            request.header.is_retransmit = True
                        attempt += 1
                        answer = pgw.app.send_request(request, timeout=2)
                    except Exception:  # no answer: the worker died under it; retransmit
                        time.sleep(0.2)
                        continue
                    results.setdefault(tag, []).append((s, n, answer.result_code))
                    break
                else:
                    abandoned.append((s, n))  # never answered: charged or not, the test cannot tell
                    break

    threads = [threading.Thread(target=load, args=(p, t), daemon=True) for p, t in ((one, "victim"), (two, "other"))]
    for t in threads:
        t.start()
    try:
        time.sleep(1.0)
        os.kill(w.pids()[victim], signal.SIGKILL)
        w.daemon.wait_for("worker-restarted", timeout=20)
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(40)
        one.stop()
        two.stop()
    assert results.get("other"), "the surviving worker's sessions stopped being answered"
    refused = [x for r in results.values() for x in r if x[2] != 2001]
    assert not refused, refused
    # the lease moved if the dead worker held it; the reaper releases the dead worker's open reservations
    assert wait_for(lambda: w.balance(account)[1] == 0, timeout=20), w.balance(account)
    assert w.daemon.stop() == 0
    balance, held = w.balance(account)
    entries, total = ledger_sum(w.dsn, account)
    assert held == 0 and total == balance  # every change in Redis is in the ledger, once
    # what the answered updates charged (50 cents for GRANT/2, 100 for GRANT), each (session, number) once
    answered = {(s, n) for r in results.values() for s, n, code in r if code == 2001}
    assert not abandoned, abandoned
    assert 100_000 - balance == sum(50 if n == 1 else 100 for _, n in answered if n in (1, 2)), sorted(answered)
    assert survivor != victim and entries > 2
