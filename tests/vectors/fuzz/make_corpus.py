# ruff: noqa: E501  (the case table reads best one case a line)
"""Writes the hand-built Diameter fuzz corpus of this directory (one `.hex` file per case; see README.md).

Run from the repository root: `python tests/vectors/fuzz/make_corpus.py`. It needs nothing but the standard
library: the messages are packed here with struct (RFC 6733 §3 header, §4.1 AVP header), independently of
ocsd's codec, so a codec bug cannot hide in the corpus. The peer is "client.test" in realm "test", the
identity the node under test (tests/unit/diameter/test_node_fuzz.py) is configured with.
"""

from __future__ import annotations

import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
R, P, E, T = 0x80, 0x40, 0x20, 0x10
M, V = 0x40, 0x80


def avp(code: int, data: bytes, flags: int = M, vendor: int = 0, length: int | None = None,
        pad: bool = True) -> bytes:
    if vendor:
        flags |= V
    head = 12 if flags & V else 8
    n = head + len(data) if length is None else length
    out = struct.pack(">II", code, (flags << 24) | n) + (struct.pack(">I", vendor) if flags & V else b"") + data
    return out + (b"\0" * (-len(data) % 4) if pad else b"")


def u32(code: int, value: int, **kw: object) -> bytes:
    return avp(code, struct.pack(">I", value), **kw)  # type: ignore[arg-type]


def utf8(code: int, text: str, **kw: object) -> bytes:
    return avp(code, text.encode(), **kw)  # type: ignore[arg-type]


def message(command: int, app: int, flags: int, avps: bytes, hbh: int = 0x1001, e2e: int = 0x2001,
            length: int | None = None, version: int = 1) -> bytes:
    n = 20 + len(avps) if length is None else length
    return struct.pack(">IIIII", (version << 24) | n, (flags << 24) | command, app, hbh, e2e) + avps


IDENTITY = utf8(264, "client.test") + utf8(296, "test")
CER_AVPS = (IDENTITY + avp(257, b"\0\1\x7f\0\0\1") + u32(266, 0) + utf8(269, "fuzz", flags=0)
            + u32(258, 4))
CER = message(257, 0, R, CER_AVPS)
DWR = message(280, 0, R, IDENTITY, hbh=0x3001, e2e=0x4001)
CCR_AVPS = (utf8(263, "client.test;1;1") + IDENTITY + utf8(283, "test") + u32(258, 4) + utf8(461, "32251@3gpp.org")
            + u32(416, 1) + u32(415, 0))
CCR = message(272, 4, R | P, CCR_AVPS, hbh=0x5001, e2e=0x6001)


def nested(depth: int, leaf: bytes) -> bytes:
    """Vendor-Specific-Application-Id (260, Grouped) inside itself `depth` times."""
    out = leaf
    for _ in range(depth):
        out = avp(260, out)
    return out


CASES: dict[str, tuple[str, bytes]] = {
    # framing and header (RFC 6733 §3)
    "short_3_octets": ("three octets: not even a version and length", CER[:3]),
    "truncated_header_8": ("the first 8 octets of a CER", CER[:8]),
    "truncated_header_19": ("19 of the 20 header octets", CER[:19]),
    "version_0": ("version 0", message(257, 0, R, CER_AVPS, version=0)),
    "version_2": ("version 2", message(257, 0, R, CER_AVPS, version=2)),
    "length_0": ("message length 0", message(257, 0, R, b"", length=0)),
    "length_19": ("message length below the header", message(257, 0, R, b"", length=19)),
    "length_unaligned": ("message length not a multiple of 4", message(257, 0, R, CER_AVPS, length=20 + len(CER_AVPS) + 1)),
    "length_huge": ("message length 2^24-1, 40 octets sent", message(257, 0, R, CER_AVPS[:20], length=0xFFFFFF)),
    "length_over_limit": ("message length 1 MiB + 4 (above ocsd's bound)", message(257, 0, R, CER_AVPS, length=(1 << 20) + 4)),
    "length_1mib_partial": ("a 1 MiB frame of which 64 octets arrive", message(257, 0, R, CER_AVPS[:44], length=1 << 20)),
    "length_longer_than_sent": ("a CER announcing 8 more octets than it has", message(257, 0, R, CER_AVPS, length=28 + len(CER_AVPS))),
    "e_bit_request": ("a CER with the R and E bits (RFC 6733 §3: 3008)", message(257, 0, R | E, CER_AVPS)),
    "answer_first": ("a CEA sent to the responder", message(257, 0, 0, u32(268, 2001) + CER_AVPS)),
    "dwr_first": ("a DWR before any CER", DWR),
    "ccr_first": ("an application request before any CER", CCR),
    "retransmit_flag_cer": ("a CER with the T bit", message(257, 0, R | T, CER_AVPS)),
    # AVP layout (RFC 6733 §4.1): 5014 with Failed-AVP
    "avp_length_0": ("an AVP of length 0 in a CER", message(257, 0, R, IDENTITY + avp(258, b"", length=0))),
    "avp_length_7": ("an AVP shorter than its header", message(257, 0, R, IDENTITY + avp(258, b"\0\0\0\4", length=7))),
    "avp_length_overrun": ("an AVP longer than the message", message(257, 0, R, IDENTITY + avp(258, b"\0\0\0\4", length=400))),
    "avp_vendor_length_11": ("a vendor AVP of length 11", message(257, 0, R, IDENTITY + avp(258, b"\0\0\0\4", vendor=10415, length=11))),
    "avp_truncated_header": ("4 octets of an AVP header at the end", message(257, 0, R, IDENTITY + b"\0\0\1\2")),
    "avp_missing_padding": ("an unpadded AVP before another", message(257, 0, R, utf8(264, "client.test", pad=False) + CER_AVPS[20:])),
    "avp_huge_count": ("2,000 small AVPs in a CER", message(257, 0, R, CER_AVPS + b"".join(u32(278, i, flags=0) for i in range(2000)))),
    # CER contents (RFC 6733 §5.3, §7.1)
    "cer_mbit_unknown_avp": ("a CER with an unknown AVP carrying the M bit", message(257, 0, R, CER_AVPS + u32(99999, 1))),
    "cer_vendor_mbit_unknown": ("an unknown vendor AVP with M in a CER", message(257, 0, R, CER_AVPS + u32(4242, 1, vendor=4242))),
    "cer_missing_origin_host": ("a CER without Origin-Host", message(257, 0, R, CER_AVPS[20:])),
    "cer_unknown_peer": ("a CER from an Origin-Host nobody configured", message(257, 0, R, utf8(264, "rogue.test") + CER_AVPS[20:])),
    "cer_two_origin_hosts": ("Origin-Host twice", message(257, 0, R, utf8(264, "client.test") + CER_AVPS)),
    "cer_origin_host_not_utf8": ("an Origin-Host that is not UTF-8", message(257, 0, R, avp(264, b"\xff\xfe\xfd") + CER_AVPS[20:])),
    "cer_host_ip_family_99": ("a Host-IP-Address of family 99", message(257, 0, R, IDENTITY + avp(257, b"\0\x63\1\2\3\4") + CER_AVPS[48:])),
    "cer_host_ip_1_octet": ("a Host-IP-Address of one octet", message(257, 0, R, IDENTITY + avp(257, b"\1") + CER_AVPS[48:])),
    "cer_auth_app_3_octets": ("an Auth-Application-Id of 3 octets", message(257, 0, R, IDENTITY + avp(258, b"\0\0\4"))),
    "cer_no_common_application": ("a CER offering only application 99", message(257, 0, R, CER_AVPS[:-12] + u32(258, 99))),
    "cer_nested_groups_64": ("Vendor-Specific-Application-Id nested 64 deep", message(257, 0, R, CER_AVPS + nested(64, u32(266, 10415)))),
    "cer_group_bad_member": ("a Vendor-Specific-Application-Id whose member overruns it", message(257, 0, R, CER_AVPS + avp(260, u32(266, 10415) + avp(258, b"\0\0\0\4", length=64)))),
    "cer_group_empty": ("an empty Vendor-Specific-Application-Id", message(257, 0, R, CER_AVPS + avp(260, b""))),
    "cer_valid": ("a valid CER from client.test (the harness opens peers with it)", CER),
    "cer_twice": ("two valid CERs back to back", CER + CER),
    "cer_then_garbage": ("a valid CER followed by 64 octets of 0xff", CER + b"\xff" * 64),
    # after a CER (over an open peer these reach the base protocol and the application checks)
    "dwr_200": ("200 DWRs in one segment", b"".join(message(280, 0, R, IDENTITY, hbh=i, e2e=i) for i in range(200))),
    "ccr_mbit_unknown_avp": ("a CCR with an unknown M-bit AVP (5001)", message(272, 4, R | P, CCR_AVPS + u32(77777, 1))),
    "ccr_missing_required": ("a CCR without CC-Request-Number (5005)", message(272, 4, R | P, CCR_AVPS[:-12])),
    "ccr_group_bad_length": ("a CCR whose MSCC member overruns the group", message(272, 4, R | P, CCR_AVPS + avp(456, u32(432, 1) + avp(437, b"", length=99)))),
    "ccr_unknown_application": ("a request of application 77 (3007)", message(272, 77, R | P, CCR_AVPS)),
    "ccr_unknown_command": ("command 999 of application 4 (3001)", message(999, 4, R | P, CCR_AVPS)),
    "ccr_retransmitted_twice": ("the same CCR, then again with T", CCR + message(272, 4, R | P | T, CCR_AVPS, hbh=0x5002, e2e=0x6001)),
    "unmatched_answer": ("an answer to nothing we sent", message(272, 4, P, u32(268, 2001) + IDENTITY, hbh=0xdead)),
    "dpr_then_data": ("a DPR followed by a DWR", message(282, 0, R, IDENTITY + u32(273, 0)) + DWR),
    "header_only_request": ("a CCR that is only a header", message(272, 4, R | P, b"")),
}


def to_hex(data: bytes) -> str:
    return "\n".join(data[i:i + 32].hex() for i in range(0, len(data), 32))


def main() -> None:
    # cases saved by bench/fuzz_node.py (fuzz_*.hex) are left as they are
    for name, (what, data) in CASES.items():
        (HERE / f"{name}.hex").write_text(f"# {what} ({len(data)} octets; made by make_corpus.py)\n{to_hex(data)}\n")
    print(f"wrote {len(CASES)} cases to {HERE}")


if __name__ == "__main__":
    main()
