"""A slow or dead store is a transient failure, quickly (issue 14 point 3): the daemon as HSS over a private
redis-server that is stopped, then SIGSTOPped, under a pipelined load of AIRs. Every AIR is answered, with
the S6a transient code 4181 (never 5012) within the configured timeouts; a ULR (PostgreSQL only) keeps getting
2001; each outage is logged once, with a count; once Redis is back, AIRs get 2001 again."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest

from auc import opc as make_opc
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.auc import aad
from tests.integration.conftest import create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")]

S6A, TGPP = 16777251, 10415
REDIS_TIMEOUT, PG_TIMEOUT = 0.5, 1.0
BOUND = REDIS_TIMEOUT + PG_TIMEOUT + 1.0  # an AIR may use both stores; 1 s of slack for a loaded machine
D = default_dictionary()


class PrivateRedis:
    """A redis-server of our own on a free port, in a temporary directory, without persistence."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                out = subprocess.run(["redis-cli", "-p", str(self.port), "ping"], capture_output=True, text=True,
                                     timeout=2)
                if out.stdout.strip() == "PONG":
                    return
            except (OSError, subprocess.TimeoutExpired):
                pass
            time.sleep(0.05)
        raise AssertionError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGCONT)
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def pause(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGSTOP)

    def resume(self) -> None:
        assert self.proc is not None
        os.kill(self.proc.pid, signal.SIGCONT)


@dataclass
class Env:
    daemon: DaemonProcess
    redis: PrivateRedis
    port: int
    imsi: str


async def provision(dsn: str, imsi: str) -> None:
    k = secrets.token_bytes(16)
    opc = make_opc(k, secrets.token_bytes(16))
    sealer = Sealer(DEMO_KEY)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc, apns) VALUES ($1, $2, $3, $4, $5)",
            imsi, "1555" + imsi[-7:], sealer.seal(k, aad("k", imsi)), sealer.seal(opc, aad("opc", imsi)),
            ["internet"])
    finally:
        await conn.close()


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    r = PrivateRedis(tmp_path)
    r.start()
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    port = free_port()
    extra = backends_config(r.url, "ocsoutage", dsn).replace(
        'key_prefix = "ocsoutage"', f'key_prefix = "ocsoutage"\ntimeout = {REDIS_TIMEOUT}').replace(
        f'dsn = "{dsn}"', f'dsn = "{dsn}"\ntimeout = {PG_TIMEOUT}')
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=port, admin_port=free_port(),
                          applications=("s6a",), extra=extra + '\n[auc]\nhome_plmns = ["00101"]\n')
    daemon = DaemonProcess(config, module="ocsd")
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(provision(dsn, imsi))
        daemon.start()
        yield Env(daemon, r, port, imsi)
    finally:
        daemon.kill()
        r.stop()
        asyncio.run(drop_database(name))


class Mme:
    """A raw S6a client on one connection: CER, then pipelined requests, each answer timed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.next_id = 100

    @classmethod
    async def connect(cls, port: int) -> Mme:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        mme = cls(reader, writer)
        writer.write(Message(257, 0, 0x80, 1, 1, D.build({
            "Origin-Host": "mme.test", "Origin-Realm": "test", "Host-IP-Address": "127.0.0.1", "Vendor-Id": TGPP,
            "Product-Name": "outage-test", "Supported-Vendor-Id": TGPP,
            "Vendor-Specific-Application-Id": {"Vendor-Id": TGPP, "Auth-Application-Id": S6A}})).encode())
        cea = D.read(await mme.read())
        assert cea["Result-Code"] == 2001
        return mme

    async def read(self) -> Message:
        head = await self.reader.readexactly(4)
        return Message.decode(head + await self.reader.readexactly(int.from_bytes(head[1:4], "big") - 4))

    def _request(self, code: int, imsi: str, body: dict[str, object]) -> int:
        self.next_id += 1
        self.writer.write(Message(code, S6A, 0xC0, self.next_id, self.next_id, D.build({
            "Session-Id": f"mme.test;{self.next_id}", "Vendor-Specific-Application-Id": {
                "Vendor-Id": TGPP, "Auth-Application-Id": S6A},
            "Auth-Session-State": 1, "Origin-Host": "mme.test", "Origin-Realm": "test", "Destination-Realm": "test",
            "User-Name": imsi, **body})).encode())
        return self.next_id

    async def burst(self, imsi: str, airs: int, ulrs: int = 0) -> dict[int, tuple[str, int, float]]:
        """Send `airs` AIRs and `ulrs` ULRs back to back; (command, result, seconds) by hop-by-hop id."""
        sent: dict[int, tuple[str, float]] = {}
        for i in range(airs + ulrs):
            started = time.monotonic()
            if i < airs:
                hbh = self._request(318, imsi, {"Visited-PLMN-Id": bytes.fromhex("00f110"),
                                                "Requested-EUTRAN-Authentication-Info": {
                                                    "Number-Of-Requested-Vectors": 1}})
                sent[hbh] = ("AIR", started)
            else:
                hbh = self._request(316, imsi, {"RAT-Type": 1004, "ULR-Flags": 0b100010,
                                                "Visited-PLMN-Id": bytes.fromhex("00f110")})
                sent[hbh] = ("ULR", started)
        await self.writer.drain()
        got: dict[int, tuple[str, int, float]] = {}
        while len(got) < len(sent):
            answer = await asyncio.wait_for(self.read(), BOUND + 5)
            r = D.read(answer)
            er = r.get("Experimental-Result")
            code = er["Experimental-Result-Code"] if er is not None else r["Result-Code"]
            command, started = sent[answer.hop_by_hop]
            got[answer.hop_by_hop] = (command, code, time.monotonic() - started)
        return got

    async def until_success(self, imsi: str, within: float) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            (_, code, _), = (await self.burst(imsi, 1)).values()
            if code == 2001:
                return
            await asyncio.sleep(0.2)
        raise AssertionError("AIRs did not get 2001 again")


def _check_transient(results: dict[int, tuple[str, int, float]]) -> None:
    airs = [(code, seconds) for command, code, seconds in results.values() if command == "AIR"]
    assert {code for code, _ in airs} == {4181}  # TS 29.272 §7.4.4 DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE
    assert max(seconds for _, seconds in airs) < BOUND
    assert {code for command, code, _ in results.values() if command == "ULR"} <= {2001}


def test_redis_stopped_then_hung_gives_transient_answers_then_2001_again(env: Env):
    async def scenario() -> None:
        mme = await Mme.connect(env.port)
        ok = await mme.burst(env.imsi, 20)
        assert {code for _, code, _ in ok.values()} == {2001}

        env.redis.stop()  # Redis down: connection refused
        mark = len(env.daemon.lines)
        _check_transient(await mme.burst(env.imsi, 50, ulrs=5))
        _check_transient(await mme.burst(env.imsi, 50))
        env.redis.start()  # an empty Redis: scripts and the AuC cache are loaded again
        await mme.until_success(env.imsi, 10)
        down = [line for line in env.daemon.lines[mark:] if line.get("event") == "store-unavailable"]
        assert len(down) == 1 and down[0]["store"] == "redis"
        recovered = env.daemon.wait_for("store-recovered", 5, after=mark)
        assert isinstance(recovered["failed_calls"], int) and recovered["failed_calls"] >= 100

        env.redis.pause()  # Redis hung: SIGSTOP, connections open, nothing answers
        mark = len(env.daemon.lines)
        try:
            _check_transient(await mme.burst(env.imsi, 50, ulrs=5))
        finally:
            env.redis.resume()
        await mme.until_success(env.imsi, 10)
        ok = await mme.burst(env.imsi, 20)
        assert {code for _, code, _ in ok.values()} == {2001}
        events = [line.get("event") for line in env.daemon.lines[mark:]]
        assert events.count("store-unavailable") == 1
        env.daemon.wait_for("store-recovered", 5, after=mark)
        mme.writer.close()

    asyncio.run(scenario())
    assert not [line for line in env.daemon.lines if line.get("event") == "handler-failed"]
    assert not [line for line in env.daemon.lines if line.get("level") == "error"]
