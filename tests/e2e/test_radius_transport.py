"""The RADIUS transport in-process on loopback, with radclient as the NAS: PAP and CHAP, a wrong secret, an
unknown client, the Message-Authenticator policy, replies carrying a Message-Authenticator, duplicates."""

from __future__ import annotations

import asyncio
import socket

import pytest
from pyrad.packet import AcctPacket

from ocs import metrics
from ocs.apps.dispatch import RadiusContext, RadiusDispatch
from ocs.transport.radius import RadiusServer
from radius.clients import ClientTable, RadiusClient
from radius.dictionary import load_dictionary
from radius.errors import UnknownVoucher
from radius.packets import (
    ACCESS_ACCEPT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE,
    RadiusReply,
    RadiusRequest,
    chap_matches,
    check_response,
    pap_password,
)
from tests.support.radclient import needs_radclient, radclient

pytestmark = [pytest.mark.e2e, needs_radclient]
SECRET = "testing123"


class Recorder:
    def __init__(self) -> None:
        self.accounting: list[str] = []

    def access(self, request: RadiusRequest, ctx: RadiusContext) -> RadiusReply:
        ok = chap_matches(request, b"wonderland")
        if ok is None:
            ok = pap_password(request) == b"wonderland"
        if request.get("User-Name") != "alice" or not ok:
            raise UnknownVoucher("alice")
        return RadiusReply(ACCESS_ACCEPT, (("Session-Timeout", 3600), ("Mikrotik-Rate-Limit", "2M/4M"),
                                           ("Class", ctx.client.encode())))

    async def accounting_request(self, request: RadiusRequest, ctx: RadiusContext) -> RadiusReply:
        await asyncio.sleep(0)
        self.accounting.append(str(request.get("Acct-Session-Id")))
        return RadiusReply(ACCOUNTING_RESPONSE)


async def serve(*clients: RadiusClient) -> tuple[RadiusServer, int, Recorder]:
    rec = Recorder()
    dispatch = RadiusDispatch()
    dispatch.register(ACCESS_REQUEST, rec.access)
    dispatch.register(ACCOUNTING_REQUEST, rec.accounting_request)
    server = RadiusServer(ClientTable(clients), load_dictionary(), dispatch)
    transport = await server.listen("127.0.0.1", 0)
    return server, transport.get_extra_info("sockname")[1], rec


def drops(reason: str) -> float:
    return metrics.REGISTRY.get_sample_value("ocsd_radius_drops_total", {"reason": reason}) or 0.0


LOCAL = RadiusClient("127.0.0.0/8", "router-1", SECRET.encode())


async def test_pap_and_chap_logins_are_accepted_with_a_message_authenticator():
    server, port, _ = await serve(LOCAL)
    try:
        pap = await radclient(port, "auth", SECRET, {"User-Name": "alice", "User-Password": "wonderland"})
        assert pap.code == "Access-Accept", pap.output
        assert pap.attributes["Session-Timeout"] == "3600"
        assert pap.attributes["Mikrotik-Rate-Limit"] == "2M/4M"
        assert "Message-Authenticator" in pap.attributes  # RFC 3579 §3.2 / BlastRADIUS
        chap = await radclient(port, "auth", SECRET, {"User-Name": "alice", "CHAP-Password": "wonderland"})
        assert chap.code == "Access-Accept", chap.output
        wrong = await radclient(port, "auth", SECRET, {"User-Name": "alice", "CHAP-Password": "alice"})
        assert wrong.code == "Access-Reject", wrong.output
        assert wrong.attributes["Reply-Message"] == "Unknown code or wrong password"
        assert "Message-Authenticator" in wrong.attributes
    finally:
        await server.stop()


async def test_wrong_secret_and_unknown_client_are_dropped_and_counted():
    server, port, rec = await serve(LOCAL)
    try:
        before = drops("bad-authenticator"), drops("bad-message-authenticator")
        acct = await radclient(port, "acct", "not-the-secret", {"Acct-Session-Id": "s1", "Acct-Status-Type": "Start"})
        assert acct.code is None and rec.accounting == []
        auth = await radclient(port, "auth", "not-the-secret", {"User-Name": "alice", "User-Password": "wonderland",
                                                                 "Message-Authenticator": "0x00"})
        assert auth.code is None
        assert (drops("bad-authenticator"), drops("bad-message-authenticator")) == (before[0] + 1, before[1] + 1)
    finally:
        await server.stop()
    server, port, rec = await serve(RadiusClient("127.0.0.9", "elsewhere", SECRET.encode()))
    try:
        before_unknown = drops("unknown-client")
        acct = await radclient(port, "acct", SECRET, {"Acct-Session-Id": "s1", "Acct-Status-Type": "Start"})
        assert acct.code is None and rec.accounting == []
        assert drops("unknown-client") == before_unknown + 1
    finally:
        await server.stop()


async def test_require_policy_drops_an_access_request_without_message_authenticator():
    server, port, _ = await serve(RadiusClient("127.0.0.1", "strict", SECRET.encode(), message_authenticator="require"))
    try:
        before = drops("missing-message-authenticator")
        bare = await radclient(port, "auth", SECRET, {"User-Name": "alice", "User-Password": "wonderland"})
        assert bare.code is None
        assert drops("missing-message-authenticator") == before + 1
        signed = await radclient(port, "auth", SECRET, {"User-Name": "alice", "User-Password": "wonderland",
                                                        "Message-Authenticator": "0x00"})
        assert signed.code == "Access-Accept", signed.output
    finally:
        await server.stop()


async def test_a_duplicated_accounting_request_gets_the_same_reply_and_is_recorded_once():
    server, port, rec = await serve(LOCAL)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setblocking(False)
    sock.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    try:
        pkt = AcctPacket(id=7, secret=SECRET.encode(), dict=load_dictionary())
        pkt["Acct-Session-Id"] = "dup-1"
        pkt["Acct-Status-Type"] = "Interim-Update"
        raw = pkt.RequestPacket()
        replies = []
        for _ in range(2):
            await loop.sock_sendto(sock, raw, ("127.0.0.1", port))
            replies.append(await asyncio.wait_for(loop.sock_recv(sock, 4096), 2.0))
        assert replies[0] == replies[1]
        assert check_response(replies[0], raw, SECRET.encode()) == ACCOUNTING_RESPONSE
        assert rec.accounting == ["dup-1"]
        pkt2 = AcctPacket(id=7, secret=SECRET.encode(), dict=load_dictionary())  # same id, new authenticator
        pkt2["Acct-Session-Id"] = "dup-1"
        pkt2["Acct-Status-Type"] = "Interim-Update"
        pkt2["Acct-Input-Octets"] = 5
        await loop.sock_sendto(sock, pkt2.RequestPacket(), ("127.0.0.1", port))
        await asyncio.wait_for(loop.sock_recv(sock, 4096), 2.0)
        assert rec.accounting == ["dup-1", "dup-1"]
    finally:
        sock.close()
        await server.stop()
