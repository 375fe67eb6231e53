"""S6a requests and in-memory collaborators for the wire-compatibility test of the S6a application.

`tests/vectors/s6a_answers.json` holds the answers (hex) that the S6a application wrote for these requests
before it was rewritten on typed messages (issue 12 point 4); the rewrite must write the same bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocs.diameter import avp
from ocs.diameter.message import Message
from ocs.subscribers.errors import ResyncFailed, UnknownUser
from ocs.subscribers.profiles import SubscriberProfile

TGPP = 10415
IMSI = "001010000000001"


@dataclass(frozen=True)
class Vec:
    rand: bytes = bytes(range(16))
    xres: bytes = bytes(range(16, 24))
    autn: bytes = bytes(range(24, 40))
    kasme: bytes = bytes(range(40, 72))
    ck: bytes = bytes(range(72, 88))
    ik: bytes = bytes(range(88, 104))
    sres: bytes = bytes(range(104, 108))
    kc: bytes = bytes(range(108, 116))


@dataclass(frozen=True)
class Vectors:
    eutran: tuple[Vec, ...]
    utran: tuple[Vec, ...]
    geran: tuple[Vec, ...]


class FakeAuc:
    """Vectors with fixed bytes; IMSI 001010000000009 is unknown, a resync with RAND of zeros fails."""

    async def vectors(self, imsi: str, serving_network: bytes, eutran: int = 1, utran: int = 0, geran: int = 0,
                      resync_info: bytes | None = None) -> Vectors:
        if imsi.endswith("9"):
            raise UnknownUser(imsi)
        if resync_info is not None and resync_info[:16] == bytes(16):
            raise ResyncFailed(imsi)
        return Vectors((Vec(),) * eutran, (Vec(),) * utran, (Vec(),) * geran)


class FakeRegs:
    """IMSI ...9 unknown, ...8 without APNs, ...7 barred; the previous MME is mme-old.test."""

    async def profile(self, imsi: str) -> SubscriberProfile | None:
        if imsi.endswith("9"):
            return None
        apns = () if imsi.endswith("8") else ("internet", "ims")
        status = "barred" if imsi.endswith("7") else "active"
        return SubscriberProfile(imsi, "15550001", status, apns, 50_000_000, 100_000_000)

    async def register(self, imsi: str, mme_host: str, mme_realm: str) -> tuple[str, str] | None:
        return None

    async def purge(self, imsi: str, mme_host: str) -> bool | None:
        if imsi.endswith("9"):
            return None
        return mme_host == "mme.test"


def request_for(kind: str, imsi: str = IMSI, plmn: bytes = b"\x00\xf1\x10", extra: tuple[str, ...] = (),
                flags: int = 0, rat: int = 1004, host: str = "mme.test", eutran: int = 2,
                utran: int = 0, resync: bytes | None = None) -> Message:
    code = {"air": 318, "ulr": 316, "pur": 321}[kind]
    avps = [avp.utf8(263, "mme.test;1;1"), avp.u32(277, 1), avp.utf8(264, host), avp.utf8(296, "test"),
            avp.utf8(283, "test"), avp.utf8(1, imsi)]
    if kind == "air":
        if eutran:
            members = [avp.u32(1410, eutran, TGPP)]
            if resync is not None:
                members.append(avp.octets(1411, resync, TGPP))
            avps.append(avp.grouped(1408, members, TGPP))
        if utran:
            avps.append(avp.grouped(1409, [avp.u32(1410, utran, TGPP)], TGPP))
    if kind == "ulr":
        avps += [avp.u32(1032, rat, TGPP), avp.u32(1405, flags, TGPP)]
    if kind != "pur":
        avps.append(avp.octets(1407, plmn, TGPP))
    return Message(code, 16777251, 0xC0, 7, 9, avps)


CASES: dict[str, tuple[str, dict[str, object]]] = {
    "air_two_eutran": ("air", {}),
    "air_eutran_and_utran": ("air", {"eutran": 1, "utran": 2}),
    "air_default_one": ("air", {"eutran": 0}),
    "air_resync": ("air", {"resync": bytes(range(1, 31))}),
    "air_resync_failed": ("air", {"resync": bytes(30)}),
    "air_unknown_user": ("air", {"imsi": "001010000000009"}),
    "air_roaming_refused": ("air", {"plmn": b"\x13\x00\x62"}),
    "ulr": ("ulr", {}),
    "ulr_skip_subscriber_data": ("ulr", {"flags": 4}),
    "ulr_barred": ("ulr", {"imsi": "001010000000007"}),
    "ulr_unknown_user": ("ulr", {"imsi": "001010000000009"}),
    "ulr_no_apn": ("ulr", {"imsi": "001010000000008"}),
    "ulr_rat_refused": ("ulr", {"flags": 2, "rat": 1000}),
    "ulr_roaming_refused": ("ulr", {"plmn": b"\x13\x00\x62"}),
    "pur_registered": ("pur", {}),
    "pur_other_mme": ("pur", {"host": "mme-new.test"}),
    "pur_unknown_user": ("pur", {"imsi": "001010000000009"}),
}
