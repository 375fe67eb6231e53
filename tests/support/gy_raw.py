"""A raw Gy peer over a plain TCP socket, for the tests that need the bytes: CER/CEA, then CCRs built by name with
ocsd's own dictionary and sent exactly as given (e.g. a copy with the T flag, RFC 6733 §3), answers read whole."""

from __future__ import annotations

import socket
from typing import Any

from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from tests.support.diameter_raw import cer

D = default_dictionary()
CCR, GY = 272, 4
FLAG_T = 0x10


class RawGyPeer:
    def __init__(self, port: int, origin_host: str) -> None:
        self.origin_host = origin_host
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self._hop = 1000
        cea = self.exchange(cer(origin_host).encode())
        assert Message.decode(cea).find(268).u32 == 2001

    def close(self) -> None:
        self.sock.close()

    def read(self) -> bytes:
        head = self._exactly(4)
        length = int.from_bytes(head[1:4], "big")
        return head + self._exactly(length - 4)

    def _exactly(self, n: int) -> bytes:
        out = b""
        while len(out) < n:
            chunk = self.sock.recv(n - len(out))
            if not chunk:
                raise ConnectionError("closed by the daemon")
            out += chunk
        return out

    def exchange(self, data: bytes) -> bytes:
        self.sock.sendall(data)
        return self.read()

    def ccr(self, session: str, kind: int, number: int, end_to_end: int, *, imsi: str | None = None,
            mscc: list[dict[str, Any]] | None = None, retransmit: bool = False) -> bytes:
        """A CCR's bytes with a fresh Hop-by-Hop-Id (as a retransmission carries: RFC 6733 §6.1.2)."""
        values: dict[str, Any] = {
            "Session-Id": session, "Origin-Host": self.origin_host, "Origin-Realm": "test",
            "Destination-Realm": "test", "Auth-Application-Id": GY, "Service-Context-Id": "32251@3gpp.org",
            "CC-Request-Type": kind, "CC-Request-Number": number}
        if imsi is not None:
            values["Subscription-Id"] = [{"Subscription-Id-Type": 1, "Subscription-Id-Data": imsi}]
        if mscc:
            values["Multiple-Services-Credit-Control"] = mscc
        self._hop += 1
        flags = 0xC0 | (FLAG_T if retransmit else 0)  # R and P bits (RFC 6733 §3), T when a retransmission
        return Message(CCR, GY, flags, self._hop, end_to_end, D.build(values)).encode()


def answer_values(data: bytes) -> Any:
    return D.read(Message.decode(data))
