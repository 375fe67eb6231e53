"""A raw S6a peer over asyncio (our codec, typed by name) and a private redis-server, for end-to-end tests."""

from __future__ import annotations

import asyncio
import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import asyncpg

from auc import opc as make_opc
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.auc import aad
from tests.support.daemon_process import free_port

S6A, TGPP = 16777251, 10415
D = default_dictionary()


async def provision(dsn: str, imsi: str, apns: tuple[str, ...] = ("internet",)) -> tuple[bytes, bytes]:
    """A subscriber with random keys (sealed with the demo key) and the APNs given; returns (K, OPc)."""
    k = secrets.token_bytes(16)
    opc = make_opc(k, secrets.token_bytes(16))
    sealer = Sealer(DEMO_KEY)
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(
            "INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc, apns) VALUES ($1, $2, $3, $4, $5)",
            imsi, "1555" + imsi[-7:], sealer.seal(k, aad("k", imsi)), sealer.seal(opc, aad("opc", imsi)),
            list(apns))
    finally:
        await conn.close()
    return k, opc


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


class Mme:
    """A raw S6a client on one connection: CER, then pipelined requests, each answer timed."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.next_id = 100
        self.origin_host = "mme.test"

    @classmethod
    async def connect(cls, port: int, origin_host: str = "mme.test") -> Mme:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        mme = cls(reader, writer)
        mme.origin_host = origin_host
        writer.write(Message(257, 0, 0x80, 1, 1, D.build({
            "Origin-Host": origin_host, "Origin-Realm": "test", "Host-IP-Address": "127.0.0.1", "Vendor-Id": TGPP,
            "Product-Name": "outage-test", "Supported-Vendor-Id": TGPP,
            "Vendor-Specific-Application-Id": {"Vendor-Id": TGPP, "Auth-Application-Id": S6A}})).encode())
        cea = D.read(await mme.read())
        assert cea["Result-Code"] == 2001
        return mme

    async def read(self) -> Message:
        """The next message; a DWR from the daemon is answered on the way (RFC 6733 §5.5)."""
        while True:
            head = await self.reader.readexactly(4)
            m = Message.decode(head + await self.reader.readexactly(int.from_bytes(head[1:4], "big") - 4))
            if not (m.is_request and m.command_code == 280):
                return m
            self.writer.write(D.answer(m, {"Result-Code": 2001, "Origin-Host": self.origin_host,
                                           "Origin-Realm": "test"}).encode())

    def ulr(self, imsi: str) -> int:
        """Send a ULR; its hop-by-hop id."""
        return self._request(316, imsi, {"RAT-Type": 1004, "ULR-Flags": 0b100010,
                                         "Visited-PLMN-Id": bytes.fromhex("00f110")})

    def _request(self, code: int, imsi: str, body: dict[str, object]) -> int:
        self.next_id += 1
        self.writer.write(Message(code, S6A, 0xC0, self.next_id, self.next_id, D.build({
            "Session-Id": f"{self.origin_host};{self.next_id}", "Vendor-Specific-Application-Id": {
                "Vendor-Id": TGPP, "Auth-Application-Id": S6A},
            "Auth-Session-State": 1, "Origin-Host": self.origin_host, "Origin-Realm": "test",
            "Destination-Realm": "test",
            "User-Name": imsi, **body})).encode())
        return self.next_id

    async def burst(self, imsi: str, airs: int, ulrs: int = 0,
                    timeout: float = 10.0) -> dict[int, tuple[str, int, float]]:
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
                sent[self.ulr(imsi)] = ("ULR", started)
        await self.writer.drain()
        got: dict[int, tuple[str, int, float]] = {}
        while len(got) < len(sent):
            answer = await asyncio.wait_for(self.read(), timeout)
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
