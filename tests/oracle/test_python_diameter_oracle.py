"""python-diameter as an independent oracle for the codec and the dictionaries.

Each message is built on one side, encoded, decoded on the other side, and the two AVP trees are compared
node by node: code, vendor, flags, the grouped structure and the typed value. A re-encode on the receiving
side must give the same bytes. Messages: a CER, a DWR, a Gy CCR-U with three MSCC, an S6a AIR and its AIA.
"""

from __future__ import annotations

import datetime
import ipaddress
from typing import Any

import pytest
from diameter.message import Message as PdMessage
from diameter.message.avp import Avp as PdAvp
from diameter.message.avp import AvpAddress, AvpGrouped, AvpTime
from diameter.message.avp.grouped import (
    AuthenticationInfo,
    EUtranVector,
    MultipleServicesCreditControl,
    PsInformation,
    RequestedEutranAuthenticationInfo,
    RequestedServiceUnit,
    ServiceInformation,
    SubscriptionId,
    SupportedFeatures,
    UsedServiceUnit,
    UserEquipmentInfo,
    VendorSpecificApplicationId,
)
from diameter.message.commands import (
    AuthenticationInformationAnswer,
    AuthenticationInformationRequest,
    CapabilitiesExchangeRequest,
    CreditControlRequest,
    DeviceWatchdogRequest,
)

from ocs.diameter.answers import make_dwr
from ocs.diameter.avp import Avp
from ocs.diameter.capabilities import Application, LocalIdentity, make_cer
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.diameter.message import Message

TGPP = 10415
S6A = 16777251


@pytest.fixture(scope="module")
def d() -> Dictionary:
    return default_dictionary()


# --- the two trees ---------------------------------------------------------------------------------------------

def _norm(value: Any) -> Any:
    """One representation for both libraries' leaf values."""
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.UTC)
        return int(value.timestamp())
    return value


def pd_tree(avps: list[PdAvp]) -> list[tuple[int, int, int, Any]]:
    out = []
    for a in avps:
        flags = (0x80 if a.is_vendor else 0) | (0x40 if a.is_mandatory else 0) | (0x20 if a.is_private else 0)
        if isinstance(a, AvpGrouped):
            value: Any = pd_tree(a.value)
        elif isinstance(a, AvpAddress):
            value = a.value[1]
        elif isinstance(a, AvpTime):
            value = _norm(a.value)
        elif type(a) is PdAvp:  # python-diameter does not know it: raw bytes
            value = a.payload
        else:
            value = _norm(a.value)
        out.append((a.code, a.vendor_id, flags, value))
    return out


def ocs_tree(d: Dictionary, avps: list[Avp], pd_known: list[PdAvp] | None = None) -> list[tuple[int, int, int, Any]]:
    """Our tree, typed by our dictionary. Where python-diameter treats an AVP as raw bytes, ours is compared raw
    too (python-diameter's dictionary is not the oracle for AVPs it does not know)."""
    out = []
    for i, a in enumerate(avps):
        definition = d.find(a.code, a.vendor_id)
        assert definition is not None, f"AVP {a.code}/{a.vendor_id} is not in our dictionary"
        other = pd_known[i] if pd_known is not None and i < len(pd_known) else None
        if definition.type == "Grouped":
            value: Any = ocs_tree(d, a.grouped, other.value if isinstance(other, AvpGrouped) else None)
        elif other is not None and type(other) is PdAvp:
            value = a.data
        else:
            value = _norm(definition.value(a))
        out.append((a.code, a.vendor_id, a.flags, value))
    return out


def parse_theirs(wire: bytes) -> PdMessage:
    """python-diameter's parse of `wire` as received: the AVPs in wire order with their wire flags. (Its typed
    command classes rebuild the AVP list from attributes, reordered and with their own flag defaults, so the
    plain parse is the oracle for the tree; the typed one is used for attribute checks.)"""
    return PdMessage.from_bytes(wire, plain_msg=True)


def ours_to_theirs(d: Dictionary, message: Message) -> None:
    wire = message.encode()
    theirs = parse_theirs(wire)
    assert theirs.header.command_code == message.command_code
    assert theirs.header.application_id == message.application_id
    assert theirs.header.hop_by_hop_identifier == message.hop_by_hop
    assert theirs.header.end_to_end_identifier == message.end_to_end
    assert ocs_tree(d, Message.decode(wire).avps, theirs.avps) == pd_tree(theirs.avps)
    assert theirs.as_bytes() == wire  # python-diameter re-encodes our bytes exactly


def theirs_to_ours(d: Dictionary, theirs: PdMessage) -> Message:
    wire = theirs.as_bytes()
    ours = Message.decode(wire)
    parsed = parse_theirs(wire)
    assert (ours.command_code, ours.application_id) == (parsed.header.command_code, parsed.header.application_id)
    assert ocs_tree(d, ours.avps, parsed.avps) == pd_tree(parsed.avps)
    assert ours.encode() == wire  # and we re-encode theirs exactly
    return ours


# --- messages built by ocsd ------------------------------------------------------------------------------------

def ocs_cer() -> Message:
    local = LocalIdentity("ocs.example.net", "example.net", ("192.0.2.1", "2001:db8::1"), vendor_id=0,
                          product_name="ocsd", origin_state_id=7,
                          applications=(Application(4), Application(S6A, TGPP), Application(16777238, TGPP)))
    return make_cer(local, 0x1234, 0x5678)


def ocs_ccr_update(d: Dictionary) -> Message:
    m = d.make
    mscc = [
        m("Multiple-Services-Credit-Control", [
            m("Requested-Service-Unit", []),
            m("Used-Service-Unit", [m("CC-Total-Octets", 1_000_000 * rg), m("CC-Input-Octets", 400_000 * rg),
                                    m("CC-Output-Octets", 600_000 * rg), m("Reporting-Reason", "QUOTA_EXHAUSTED")]),
            m("Rating-Group", rg),
            m("Service-Identifier", 1000 + rg),
        ])
        for rg in (10, 20, 30)
    ]
    return Message(272, 4, 0xC0, 11, 22, [
        m("Session-Id", "smf.example.net;1;42"),
        m("Origin-Host", "smf.example.net"),
        m("Origin-Realm", "example.net"),
        m("Destination-Realm", "example.net"),
        m("Auth-Application-Id", 4),
        m("Service-Context-Id", "32251@3gpp.org"),
        m("CC-Request-Type", "UPDATE_REQUEST"),
        m("CC-Request-Number", 1),
        m("Event-Timestamp", 1_790_000_000),
        m("Subscription-Id", [m("Subscription-Id-Type", "END_USER_IMSI"),
                              m("Subscription-Id-Data", "001010000000001")]),
        m("Subscription-Id", [m("Subscription-Id-Type", "END_USER_E164"), m("Subscription-Id-Data", "15550001")]),
        m("Multiple-Services-Indicator", "MULTIPLE_SERVICES_SUPPORTED"),
        *mscc,
        m("User-Equipment-Info", [m("User-Equipment-Info-Type", "IMEISV"),
                                  m("User-Equipment-Info-Value", b"3534900698733190")]),
        m("Service-Information", [m("PS-Information", [
            m("3GPP-Charging-Id", b"\x00\x00\x00\x2a"),
            m("3GPP-PDP-Type", 0),
            m("PDP-Address", "10.45.0.2"),
            m("SGSN-Address", "192.0.2.20"),
            m("Called-Station-Id", "internet"),
            m("3GPP-SGSN-MCC-MNC", "00101"),
            m("3GPP-RAT-Type", b"\x06"),
            m("3GPP-User-Location-Info", bytes.fromhex("8200f1100001000f110000010a")),
        ])]),
    ])


def ocs_air(d: Dictionary) -> Message:
    m = d.make
    return Message(318, S6A, 0xC0, 5, 6, [
        m("Session-Id", "mme.example.net;7;1"),
        m("Vendor-Specific-Application-Id", [m("Vendor-Id", TGPP), m("Auth-Application-Id", S6A)]),
        m("Auth-Session-State", "NO_STATE_MAINTAINED"),
        m("Origin-Host", "mme.example.net"),
        m("Origin-Realm", "example.net"),
        m("Destination-Realm", "example.net"),
        m("User-Name", "001010000000001"),
        m("Supported-Features", [m("Vendor-Id", TGPP), m("Feature-List-ID", 1), m("Feature-List", 0x1C000607)]),
        m("Requested-EUTRAN-Authentication-Info", [
            m("Number-Of-Requested-Vectors", 2),
            m("Immediate-Response-Preferred", 1),
            m("Re-Synchronization-Info", bytes(range(30))),
        ]),
        m("Visited-PLMN-Id", bytes.fromhex("00f110")),
    ])


def ocs_aia(d: Dictionary) -> Message:
    m = d.make
    vectors = [
        m("E-UTRAN-Vector", [m("Item-Number", i), m("RAND", bytes([i]) * 16), m("XRES", bytes([i + 1]) * 8),
                             m("AUTN", bytes([i + 2]) * 16), m("KASME", bytes([i + 3]) * 32)])
        for i in (1, 2)
    ]
    return Message(318, S6A, 0x40, 5, 6, [
        m("Session-Id", "mme.example.net;7;1"),
        m("Vendor-Specific-Application-Id", [m("Vendor-Id", TGPP), m("Auth-Application-Id", S6A)]),
        m("Result-Code", 2001),
        m("Auth-Session-State", "NO_STATE_MAINTAINED"),
        m("Origin-Host", "ocs.example.net"),
        m("Origin-Realm", "example.net"),
        m("Authentication-Info", vectors),
    ])


def test_cer_ours_to_theirs(d):
    ours_to_theirs(d, ocs_cer())


def test_dwr_ours_to_theirs(d):
    ours_to_theirs(d, make_dwr("ocs.example.net", "example.net", 7, 1, 2))


def test_gy_ccr_with_three_mscc_ours_to_theirs(d):
    msg = ocs_ccr_update(d)
    ours_to_theirs(d, msg)
    theirs = PdMessage.from_bytes(msg.encode())
    assert isinstance(theirs, CreditControlRequest)
    assert [x.rating_group for x in theirs.multiple_services_credit_control] == [10, 20, 30]
    assert theirs.multiple_services_credit_control[2].used_service_unit[0].cc_total_octets == 30_000_000
    assert theirs.service_information.ps_information.called_station_id == "internet"


def test_s6a_air_and_aia_ours_to_theirs(d):
    air = ocs_air(d)
    ours_to_theirs(d, air)
    theirs = PdMessage.from_bytes(air.encode())
    assert isinstance(theirs, AuthenticationInformationRequest)
    assert theirs.requested_eutran_authentication_info.number_of_requested_vectors == 2
    assert theirs.visited_plmn_id == bytes.fromhex("00f110")
    aia = ocs_aia(d)
    ours_to_theirs(d, aia)
    answer = PdMessage.from_bytes(aia.encode())
    assert isinstance(answer, AuthenticationInformationAnswer)
    assert [v.kasme for v in answer.authentication_info.e_utran_vector] == [b"\x04" * 32, b"\x05" * 32]


# --- messages built by python-diameter -------------------------------------------------------------------------

def test_cer_theirs_to_ours(d):
    cer = CapabilitiesExchangeRequest()
    cer.header.hop_by_hop_identifier = 3
    cer.origin_host = b"mme.example.net"
    cer.origin_realm = b"example.net"
    cer.host_ip_address = ["127.0.0.1", "2001:db8::2"]
    cer.vendor_id = 0
    cer.product_name = "python-diameter"
    cer.origin_state_id = 1
    cer.supported_vendor_id = [TGPP]
    cer.auth_application_id = [4]
    cer.vendor_specific_application_id = [VendorSpecificApplicationId(vendor_id=TGPP, auth_application_id=S6A)]
    cer.firmware_revision = 16777216
    ours = theirs_to_ours(d, cer)
    assert d.value(ours.find(269)) == "python-diameter"  # type: ignore[arg-type]


def test_dwr_theirs_to_ours(d):
    dwr = DeviceWatchdogRequest()
    dwr.origin_host = b"mme.example.net"
    dwr.origin_realm = b"example.net"
    dwr.origin_state_id = 9
    theirs_to_ours(d, dwr)


def test_gy_ccr_with_three_mscc_theirs_to_ours(d):
    ccr = CreditControlRequest()
    ccr.session_id = "smf.example.net;2;1"
    ccr.origin_host = b"smf.example.net"
    ccr.origin_realm = b"example.net"
    ccr.destination_realm = b"example.net"
    ccr.auth_application_id = 4
    ccr.service_context_id = "32251@3gpp.org"
    ccr.cc_request_type = 2
    ccr.cc_request_number = 3
    ccr.event_timestamp = datetime.datetime(2026, 11, 22, 12, 0, 0, tzinfo=datetime.UTC)
    ccr.subscription_id = [SubscriptionId(subscription_id_type=1, subscription_id_data="001010000000001")]
    ccr.multiple_services_indicator = 1
    ccr.multiple_services_credit_control = [
        MultipleServicesCreditControl(
            requested_service_unit=RequestedServiceUnit(cc_total_octets=0),
            used_service_unit=[UsedServiceUnit(cc_total_octets=1000 * rg, cc_input_octets=300 * rg,
                                               cc_output_octets=700 * rg, cc_time=rg)],
            rating_group=rg, service_identifier=[rg + 1], reporting_reason=[2])
        for rg in (1, 2, 3)
    ]
    ccr.user_equipment_info = UserEquipmentInfo(user_equipment_info_type=0,
                                                user_equipment_info_value=b"3534900698733190")
    ccr.service_information = ServiceInformation(ps_information=PsInformation(
        tgpp_charging_id=b"\x00\x00\x00\x01", tgpp_pdp_type=0, pdp_address=["10.45.0.9"],
        sgsn_address=["192.0.2.20"], called_station_id="internet", tgpp_sgsn_mcc_mnc="00101",
        tgpp_ms_timezone=b"\x40\x00"))
    ours = theirs_to_ours(d, ccr)
    mscc = [a for a in ours.avps if a.code == 456]
    assert [d.value(a.find(432)) for a in mscc] == [1, 2, 3]  # type: ignore[arg-type]


def test_s6a_air_and_aia_theirs_to_ours(d):
    air = AuthenticationInformationRequest()
    air.header.application_id = S6A  # python-diameter leaves it 0 unless told
    air.session_id = "mme.example.net;3;1"
    air.vendor_specific_application_id = VendorSpecificApplicationId(vendor_id=TGPP, auth_application_id=S6A)
    air.auth_session_state = 1
    air.origin_host = b"mme.example.net"
    air.origin_realm = b"example.net"
    air.destination_realm = b"example.net"
    air.user_name = "001010000000001"
    air.supported_features = [SupportedFeatures(vendor_id=TGPP, feature_list_id=1, feature_list=0x1C000607)]
    air.requested_eutran_authentication_info = RequestedEutranAuthenticationInfo(
        number_of_requested_vectors=1, immediate_response_preferred=0, re_synchronization_info=bytes(30))
    air.visited_plmn_id = bytes.fromhex("00f110")
    ours = theirs_to_ours(d, air)
    assert ours.application_id == S6A and d.value(ours.find(1)) == "001010000000001"  # type: ignore[arg-type]

    aia = AuthenticationInformationAnswer()
    aia.header.application_id = S6A
    aia.session_id = "mme.example.net;3;1"
    aia.result_code = 2001
    aia.auth_session_state = 1
    aia.origin_host = b"ocs.example.net"
    aia.origin_realm = b"example.net"
    aia.authentication_info = AuthenticationInfo(e_utran_vector=[
        EUtranVector(item_number=1, rand=b"\x01" * 16, xres=b"\x02" * 8, autn=b"\x03" * 16, kasme=b"\x04" * 32)])
    theirs_to_ours(d, aia)
