"""RADIUS packets: check a request from a known client, read it by attribute name, write a reply.

Theory of operation. `check_request` takes the datagram and the client it came from and either returns a
`RadiusRequest` (attributes decoded by pyrad against our dictionaries) or raises `Drop` with the reason the
transport counts; a request is never answered when dropped (RFC 2865 §3 silent discard). `encode_reply` writes
the Response Authenticator (RFC 2865 §3) and, for Access-Accept/Reject/Challenge and when the request carried
one, a Message-Authenticator (RFC 3579 §3.2; BlastRADIUS: every Access reply carries one).
Pure: hashing and bytes only; the clock is not read here.
"""

from __future__ import annotations

import hashlib
import hmac
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from pyrad.dictionary import Dictionary
from pyrad.packet import Packet
from pyrad.tools import DecodeAttr

from radius.clients import REQUIRE, RadiusClient

# RFC 2865 §3, RFC 2866 §3, RFC 5176 §3 packet codes
ACCESS_REQUEST, ACCESS_ACCEPT, ACCESS_REJECT = 1, 2, 3
ACCOUNTING_REQUEST, ACCOUNTING_RESPONSE = 4, 5
ACCESS_CHALLENGE = 11
DISCONNECT_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK = 40, 41, 42
COA_REQUEST, COA_ACK, COA_NAK = 43, 44, 45
CODE_NAMES = {ACCESS_REQUEST: "Access-Request", ACCOUNTING_REQUEST: "Accounting-Request",
              ACCESS_ACCEPT: "Access-Accept", ACCESS_REJECT: "Access-Reject",
              ACCOUNTING_RESPONSE: "Accounting-Response", DISCONNECT_REQUEST: "Disconnect-Request",
              DISCONNECT_ACK: "Disconnect-ACK", DISCONNECT_NAK: "Disconnect-NAK", COA_REQUEST: "CoA-Request",
              COA_ACK: "CoA-ACK", COA_NAK: "CoA-NAK"}
REQUEST_CODES = frozenset({ACCESS_REQUEST, ACCOUNTING_REQUEST})
MESSAGE_AUTHENTICATOR = 80
USER_PASSWORD, CHAP_PASSWORD, CHAP_CHALLENGE = 2, 3, 60
HEADER = 20
MAX_LENGTH = 4096  # RFC 2865 §3: the maximum length is 4096
ZERO16 = bytes(16)

# Drop reasons (the label of the drops metric)
MALFORMED = "malformed"
UNKNOWN_CLIENT = "unknown-client"
UNEXPECTED_CODE = "unexpected-code"
BAD_AUTHENTICATOR = "bad-authenticator"
MISSING_MESSAGE_AUTHENTICATOR = "missing-message-authenticator"
BAD_MESSAGE_AUTHENTICATOR = "bad-message-authenticator"


class Drop(Exception):
    """A datagram to discard silently; `reason` labels the drops metric."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


AttrKey = int | tuple[int, int]  # an RFC attribute type, or (vendor id, vendor type) inside a Vendor-Specific


@lru_cache(maxsize=8)
def _index(dictionary: Dictionary) -> dict[str, tuple[AttrKey, str, Any]]:
    """name -> (key, data type, named values) of every attribute the dictionary defines."""
    out: dict[str, tuple[AttrKey, str, Any]] = {}
    for name in dictionary.attributes:
        a = dictionary.attributes[name]
        key: AttrKey = (dictionary.vendors.GetForward(a.vendor), a.code) if a.vendor else a.code
        out[name] = (key, a.type, a.values if len(a.values) else None)
    return out


def read_attributes(body: bytes) -> dict[AttrKey, list[bytes]]:
    """The attributes of a packet as raw values by key, in one pass (RFC 2865 §5; vendor attributes in the
    §5.26 recommended format; a Vendor-Specific in another format is kept whole under 26)."""
    out: dict[AttrKey, list[bytes]] = {}
    i, n = 0, len(body)
    while i < n:
        code, length = body[i], body[i + 1]
        value = body[i + 2:i + length]
        i += length
        if code == 26 and len(value) > 6:
            vendor = int.from_bytes(value[:4], "big")
            j, m = 4, len(value)
            subs: list[tuple[AttrKey, bytes]] = []
            while j + 2 <= m:
                sub_len = value[j + 1]
                if sub_len < 2 or j + sub_len > m:
                    subs = []
                    break
                subs.append(((vendor, value[j]), value[j + 2:j + sub_len]))
                j += sub_len
            if subs and j == m:
                for key, v in subs:
                    out.setdefault(key, []).append(v)
                continue
        out.setdefault(code, []).append(value)
    return out


@dataclass(frozen=True, slots=True)
class RadiusRequest:
    code: int
    identifier: int
    authenticator: bytes
    client: RadiusClient
    attributes: dict[AttrKey, list[bytes]] = field(repr=False)
    message_authenticator: bool  # the request carried a valid one
    index: dict[str, tuple[AttrKey, str, Any]] = field(repr=False)  # the dictionary by name (_index)

    def get(self, name: str) -> object | None:
        """The first value of attribute `name`, decoded by its dictionary type (an enumerated integer as its
        name), or None when absent or malformed."""
        key, datatype, values = self.index[name]
        raw = self.attributes.get(key)
        if not raw:
            return None
        value = raw[0]
        if values is not None and values.HasBackward(value):
            return values.GetBackward(value)
        try:
            return DecodeAttr(datatype, value)
        except (struct.error, ValueError, IndexError):
            return None

    def raw(self, code: int) -> bytes | None:
        values = self.attributes.get(code)
        return values[0] if values else None

    @property
    def name(self) -> str:
        return CODE_NAMES.get(self.code, str(self.code))


@dataclass(frozen=True, slots=True)
class RadiusReply:
    code: int
    attributes: Sequence[tuple[str, object]] = ()


def _find_attribute(body: bytes, code: int) -> int:
    """Offset in `body` (the attributes) of the first attribute `code`, or -1; raises Drop when malformed."""
    i, n = 0, len(body)
    found = -1
    while i < n:
        if i + 2 > n:
            raise Drop(MALFORMED)
        length = body[i + 1]
        if length < 2 or i + length > n:
            raise Drop(MALFORMED)
        if body[i] == code and found < 0:
            found = i
        i += length
    return found


def check_request(data: bytes, client: RadiusClient, dictionary: Dictionary) -> RadiusRequest:
    """The request in `data` from `client`, checked; raises Drop otherwise."""
    if len(data) < HEADER:
        raise Drop(MALFORMED)
    code, identifier, length = struct.unpack_from("!BBH", data)
    if length < HEADER or length > len(data) or length > MAX_LENGTH:
        raise Drop(MALFORMED)
    data = data[:length]  # RFC 2865 §3: octets beyond Length are padding
    if code not in REQUEST_CODES:
        raise Drop(UNEXPECTED_CODE)
    secret = client.secret
    authenticator = data[4:20]
    body = data[HEADER:]
    ma_at = _find_attribute(body, MESSAGE_AUTHENTICATOR)
    if code == ACCOUNTING_REQUEST:
        # RFC 2866 §3: Request Authenticator = MD5(Code+Identifier+Length+16 zero octets+attributes+secret)
        expected = hashlib.md5(data[:4] + ZERO16 + body + secret).digest()
        if not hmac.compare_digest(expected, authenticator):
            raise Drop(BAD_AUTHENTICATOR)
    if ma_at >= 0:
        if body[ma_at + 1] != 18:
            raise Drop(MALFORMED)
        got = body[ma_at + 2:ma_at + 18]
        zeroed = body[:ma_at + 2] + ZERO16 + body[ma_at + 18:]
        # RFC 3579 §3.2: HMAC-MD5 over the packet with the attribute zeroed; Access-Request keeps its Request
        # Authenticator, an Accounting-Request uses 16 zero octets there (RFC 5080 §2.2.4, as FreeRADIUS does).
        auth = authenticator if code == ACCESS_REQUEST else ZERO16
        expected = hmac.new(secret, data[:4] + auth + zeroed, hashlib.md5).digest()
        if not hmac.compare_digest(expected, got):
            raise Drop(BAD_MESSAGE_AUTHENTICATOR)
    elif code == ACCESS_REQUEST and client.message_authenticator == REQUIRE:
        raise Drop(MISSING_MESSAGE_AUTHENTICATOR)  # RFC 3579 §3.2, BlastRADIUS (CVE-2024-3596) advice
    return RadiusRequest(code, identifier, authenticator, client, read_attributes(body), ma_at >= 0,
                         _index(dictionary))


def pap_password(request: RadiusRequest) -> bytes | None:
    """RFC 2865 §5.2: User-Password decrypted with the secret and the Request Authenticator; None if absent."""
    hidden = request.raw(USER_PASSWORD)
    if hidden is None:
        return None
    if not hidden or len(hidden) % 16 or len(hidden) > 128:
        return b""
    secret, last = request.client.secret, request.authenticator
    out = bytearray()
    for i in range(0, len(hidden), 16):
        block = hidden[i:i + 16]
        key = hashlib.md5(secret + last).digest()
        out += bytes(a ^ b for a, b in zip(block, key, strict=True))
        last = block
    return bytes(out).rstrip(b"\x00")


def chap_matches(request: RadiusRequest, password: bytes) -> bool | None:
    """RFC 2865 §5.3 (RFC 1994 §4.1): MD5(CHAP Ident + password + challenge) against CHAP-Password; the
    challenge is CHAP-Challenge, or else the Request Authenticator. None when the request has no CHAP."""
    chap = request.raw(CHAP_PASSWORD)
    if chap is None:
        return None
    if len(chap) != 17:
        return False
    challenge = request.raw(CHAP_CHALLENGE) or request.authenticator
    expected = hashlib.md5(chap[:1] + password + challenge).digest()
    return hmac.compare_digest(expected, chap[1:])


def encode_attributes(dictionary: Dictionary, attributes: Sequence[tuple[str, object]]) -> bytes:
    if not attributes:
        return b""  # an Accounting-Response: no attributes to encode
    packet = Packet(dict=dictionary, secret=b"", authenticator=ZERO16, id=0)
    for name, value in attributes:
        packet.AddAttribute(name, value)
    return packet._PktEncodeAttributes()  # noqa: SLF001 - pyrad's encoder, without its header handling


def encode_reply(request: RadiusRequest, reply: RadiusReply, dictionary: Dictionary) -> bytes:
    """The reply datagram: attributes, Message-Authenticator where due, Response Authenticator (RFC 2865 §3:
    MD5(Code+ID+Length+RequestAuth+Attributes+Secret))."""
    body = encode_attributes(dictionary, reply.attributes)
    # Proxy-State (33) is copied unmodified into the reply (RFC 2865 §5.33)
    for proxy_state in request.attributes.get(33, ()):
        body += bytes((33, len(proxy_state) + 2)) + proxy_state
    secret = request.client.secret
    with_ma = reply.code in (ACCESS_ACCEPT, ACCESS_REJECT, ACCESS_CHALLENGE) or request.message_authenticator
    if with_ma:
        body += bytes((MESSAGE_AUTHENTICATOR, 18)) + ZERO16
    header = struct.pack("!BBH", reply.code, request.identifier, HEADER + len(body))
    if with_ma:
        # RFC 3579 §3.2: in a response, computed with the Request Authenticator in the authenticator field
        mac = hmac.new(secret, header + request.authenticator + body, hashlib.md5).digest()
        body = body[:-16] + mac
    response_auth = hashlib.md5(header + request.authenticator + body + secret).digest()
    return header + response_auth + body


def encode_request(code: int, identifier: int, attributes: Sequence[tuple[str, object]], secret: bytes,
                   dictionary: Dictionary) -> bytes:
    """A Disconnect-Request or CoA-Request (RFC 5176 §3: Request Authenticator as in RFC 2866 §3) with a
    Message-Authenticator (RFC 5176 §3.1, computed over a zero authenticator)."""
    body = encode_attributes(dictionary, attributes) + bytes((MESSAGE_AUTHENTICATOR, 18)) + ZERO16
    header = struct.pack("!BBH", code, identifier, HEADER + len(body))
    mac = hmac.new(secret, header + ZERO16 + body, hashlib.md5).digest()
    body = body[:-16] + mac
    return header + hashlib.md5(header + ZERO16 + body + secret).digest() + body


def check_response(data: bytes, request: bytes, secret: bytes) -> int | None:
    """The code of a valid response to our `request` (Response Authenticator RFC 2865 §3), or None."""
    if len(data) < HEADER or data[1] != request[1]:
        return None
    length = struct.unpack_from("!H", data, 2)[0]
    if length < HEADER or length > len(data):
        return None
    data = data[:length]
    expected = hashlib.md5(data[:4] + request[4:20] + data[HEADER:] + secret).digest()
    if not hmac.compare_digest(expected, data[4:20]):
        return None
    return data[0]


__all__ = [
    "ACCESS_ACCEPT", "ACCESS_REJECT", "ACCESS_REQUEST", "ACCOUNTING_REQUEST", "ACCOUNTING_RESPONSE", "COA_ACK",
    "COA_NAK", "COA_REQUEST", "DISCONNECT_ACK", "DISCONNECT_NAK", "DISCONNECT_REQUEST", "Drop", "RadiusReply",
    "RadiusRequest", "chap_matches", "check_request", "check_response", "encode_reply", "encode_request",
    "pap_password",
]
