"""Capabilities exchange (RFC 6733 §5.3): what we advertise in CER/CEA and what we have in common with a peer."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocs.diameter import avp
from ocs.diameter.avp import Avp
from ocs.diameter.codes import (
    ACCT_APPLICATION_ID,
    APP_RELAY,
    AUTH_APPLICATION_ID,
    AVP_MANDATORY,
    CMD_CAPABILITIES_EXCHANGE,
    DIAMETER_AVP_UNSUPPORTED,
    DIAMETER_MISSING_AVP,
    DIAMETER_NO_COMMON_APPLICATION,
    DIAMETER_UNKNOWN_PEER,
    ERROR_MESSAGE,
    FAILED_AVP,
    FIRMWARE_REVISION,
    FLAG_REQUEST,
    HOST_IP_ADDRESS,
    ORIGIN_HOST,
    ORIGIN_REALM,
    ORIGIN_STATE_ID,
    PRODUCT_NAME,
    RESULT_CODE,
    SUPPORTED_VENDOR_ID,
    VENDOR_ID,
    VENDOR_SPECIFIC_APPLICATION_ID,
    is_protocol_error,
)
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message


@dataclass(frozen=True, slots=True)
class Application:
    """An application we serve: RFC 6733 §2.4 id, with the vendor when advertised vendor-specifically."""

    app_id: int
    vendor_id: int = 0  # 0: advertised as plain Auth-Application-Id


@dataclass(frozen=True, slots=True)
class LocalIdentity:
    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...] = ("127.0.0.1",)
    vendor_id: int = 0
    product_name: str = "ocsd"
    firmware_revision: int = 1
    origin_state_id: int = 0
    applications: tuple[Application, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class PeerCapabilities:
    """What a peer said in its CER or CEA."""

    origin_host: str
    origin_realm: str
    host_ip_addresses: tuple[str, ...]
    vendor_id: int
    product_name: str
    auth_application_ids: frozenset[int]
    acct_application_ids: frozenset[int]
    firmware_revision: int | None = None


def parse_capabilities(msg: Message) -> PeerCapabilities:
    """Read a CER or CEA (RFC 6733 §5.3.1/§5.3.2). Missing mandatory AVPs raise 5005 with the AVP's code."""
    origin_host = _required(msg, ORIGIN_HOST).utf8
    origin_realm = _required(msg, ORIGIN_REALM).utf8
    hosts = tuple(str(a.address) for a in msg.find_all(HOST_IP_ADDRESS))
    if not hosts:
        raise DiameterError(DIAMETER_MISSING_AVP, "Host-IP-Address missing", avp.octets(HOST_IP_ADDRESS, b""))
    vendor_id = _required(msg, VENDOR_ID).u32
    product = _required(msg, PRODUCT_NAME).utf8
    auth = {a.u32 for a in msg.find_all(AUTH_APPLICATION_ID)}
    acct = {a.u32 for a in msg.find_all(ACCT_APPLICATION_ID)}
    for vsa in msg.find_all(VENDOR_SPECIFIC_APPLICATION_ID):
        for member in vsa.grouped:
            if member.code == AUTH_APPLICATION_ID and member.vendor_id == 0:
                auth.add(member.u32)
            elif member.code == ACCT_APPLICATION_ID and member.vendor_id == 0:
                acct.add(member.u32)
    fw = msg.find(FIRMWARE_REVISION)
    return PeerCapabilities(origin_host, origin_realm, hosts, vendor_id, product, frozenset(auth),
                            frozenset(acct), fw.u32 if fw is not None else None)


def _required(msg: Message, code: int) -> Avp:
    found = msg.find(code)
    if found is None:
        # RFC 6733 §7.5: for a missing AVP, Failed-AVP holds an example of it with an empty value.
        raise DiameterError(DIAMETER_MISSING_AVP, f"AVP {code} missing", avp.octets(code, b""))
    return found


def common_applications(local: LocalIdentity, peer: PeerCapabilities,
                        allowed: frozenset[int] | None = None) -> tuple[Application, ...]:
    """Applications both sides support; a peer advertising Relay supports them all (RFC 6733 §5.3). `allowed`,
    when given, is what the peer's configuration lets it use: the rest is not offered to it."""
    offered = peer.auth_application_ids | peer.acct_application_ids
    mine = local.applications if allowed is None else tuple(a for a in local.applications if a.app_id in allowed)
    if APP_RELAY in offered:
        return mine
    return tuple(app for app in mine if app.app_id in offered)


def cer_origin_host(cer: Message) -> str:
    """The Origin-Host of a CER, read before anything else so that an unknown peer costs no more work."""
    return _required(cer, ORIGIN_HOST).utf8


def accept_cer(local: LocalIdentity, cer: Message, known_avps: frozenset[tuple[int, int]], *,
               realm: str | None, allowed: frozenset[int] | None) -> tuple[PeerCapabilities, tuple[Application, ...]]:
    """Check the CER of a configured peer: the peer's capabilities and the applications we have in common.

    Refusals raise DiameterError with the CEA's Result-Code: an unknown AVP with the M bit, 5001 with it in
    Failed-AVP (RFC 6733 §7.1.5, §5.3: the CER is a message like any other); a missing AVP, 5005; an
    Origin-Realm other than the peer's configured realm, 3010 (DIAMETER_UNKNOWN_PEER, RFC 6733 §7.1.3: the
    host/realm pair is not a peer we know); no common application, 5010 (RFC 6733 §5.3).
    """
    for a in cer.avps:
        if a.flags & AVP_MANDATORY and (a.code, a.vendor_id) not in known_avps:
            raise DiameterError(DIAMETER_AVP_UNSUPPORTED, f"AVP {a.code} vendor {a.vendor_id}", a)
    caps = parse_capabilities(cer)
    if realm is not None and caps.origin_realm.lower() != realm.lower():
        raise DiameterError(DIAMETER_UNKNOWN_PEER, f"realm {caps.origin_realm} is not the peer's")
    common = common_applications(local, caps, allowed)
    if not common:
        raise DiameterError(DIAMETER_NO_COMMON_APPLICATION, "no common application")
    return caps, common


def identity_avps(local: LocalIdentity, applications: tuple[Application, ...]) -> list[Avp]:
    """Origin-Host .. applications: the common body of CER and CEA (RFC 6733 §5.3.1, §5.3.2)."""
    avps = [avp.utf8(ORIGIN_HOST, local.origin_host), avp.utf8(ORIGIN_REALM, local.origin_realm)]
    avps += [avp.address(HOST_IP_ADDRESS, ip) for ip in local.host_ip_addresses]
    avps += [avp.u32(VENDOR_ID, local.vendor_id), avp.utf8(PRODUCT_NAME, local.product_name, mandatory=False)]
    avps.append(avp.u32(ORIGIN_STATE_ID, local.origin_state_id))
    for vendor in sorted({app.vendor_id for app in applications if app.vendor_id}):
        avps.append(avp.u32(SUPPORTED_VENDOR_ID, vendor))
    for app in applications:
        if app.vendor_id:
            avps.append(avp.grouped(VENDOR_SPECIFIC_APPLICATION_ID,
                                    [avp.u32(VENDOR_ID, app.vendor_id), avp.u32(AUTH_APPLICATION_ID, app.app_id)]))
        else:
            avps.append(avp.u32(AUTH_APPLICATION_ID, app.app_id))
    avps.append(avp.u32(FIRMWARE_REVISION, local.firmware_revision, mandatory=False))
    return avps


def make_cer(local: LocalIdentity, hop_by_hop: int, end_to_end: int) -> Message:
    return Message(CMD_CAPABILITIES_EXCHANGE, 0, FLAG_REQUEST, hop_by_hop, end_to_end,
                   identity_avps(local, local.applications))


def make_cea(local: LocalIdentity, cer: Message, result_code: int,
             applications: tuple[Application, ...], failed: Avp | None = None, error_message: str = "") -> Message:
    """CEA: Result-Code first after identity per the CCF order of RFC 6733 §5.3.2."""
    avps = [avp.u32(RESULT_CODE, result_code)]
    avps += identity_avps(local, applications)
    if error_message:
        avps.append(avp.utf8(ERROR_MESSAGE, error_message, mandatory=False))
    if failed is not None:
        avps.append(avp.grouped(FAILED_AVP, [failed]))
    return cer.answer(avps, error=is_protocol_error(result_code))
