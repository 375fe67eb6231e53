"""The shipped Diameter dictionaries (dictionaries/diameter/*.toml): they load, agree with python-diameter's AVP
table on codes, vendors and types, define each AVP once, and carry the commands and required AVPs the base
protocol checks (RFC 4006 §3.1, TS 29.212 §5.6, TS 29.272 §7.2)."""

from __future__ import annotations

import tomllib
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from diameter.message.avp import (
    AvpAddress,
    AvpFloat32,
    AvpFloat64,
    AvpGrouped,
    AvpInteger32,
    AvpInteger64,
    AvpOctetString,
    AvpTime,
    AvpUnsigned32,
    AvpUnsigned64,
    AvpUtf8String,
)
from diameter.message.avp.dictionary import AVP_DICTIONARY, AVP_VENDOR_DICTIONARY

from ocs.apps import s6a, s6a_data
from ocs.diameter.codes import AVP_MANDATORY, AVP_VENDOR
from ocs.diameter.dictionary import AvpDef, Dictionary, default_dictionary_dir, load_dictionary, parse_file

SHIPPED = Path(__file__).resolve().parents[3] / "dictionaries" / "diameter"
TGPP = 10415
GX, S6A = 16777238, 16777251
FILES = ("base", "credit_control", "nasreq", "tgpp_common", "tgpp_gx", "tgpp_gy", "tgpp_s6a")


@pytest.fixture(scope="module")
def d() -> Dictionary:
    return load_dictionary([SHIPPED])


# --- (a) the shipped dictionary loads -----------------------------------------------------------------------

def test_every_specification_file_is_shipped():
    assert sorted(p.stem for p in SHIPPED.glob("*.toml")) == sorted(FILES)


def test_shipped_dictionary_loads_with_every_reference_resolved(d):
    # load_dictionary raises DictionaryError for a member or a required AVP that no file defines
    assert len(d) > 500
    assert default_dictionary_dir().resolve() == SHIPPED  # tests load the source checkout, not an installed copy


def test_every_file_names_its_source_and_its_vendor():
    for f in SHIPPED.glob("*.toml"):
        doc = tomllib.loads(f.read_text())
        assert doc.get("source"), f.name
        assert doc.get("vendor") in (0, TGPP), f.name
        assert f.read_text().startswith("#"), f"{f.name}: a header comment names the specification"


# --- (b) python-diameter agrees on code, vendor and type ----------------------------------------------------

# python-diameter's Avp classes and the data formats they can carry. It types the derived OctetString formats
# (DiameterIdentity, DiameterURI, IPFilterRule, QoSFilterRule) as plain OctetString, and Enumerated as Integer32
# (its AvpEnumerated is AvpInteger32).
COMPATIBLE: dict[type, frozenset[str]] = {
    AvpOctetString: frozenset({"OctetString", "DiameterIdentity", "DiameterURI", "IPFilterRule", "QoSFilterRule"}),
    AvpUtf8String: frozenset({"UTF8String"}),
    AvpAddress: frozenset({"Address"}),
    AvpInteger32: frozenset({"Integer32", "Enumerated"}),
    AvpUnsigned32: frozenset({"Unsigned32"}),
    AvpInteger64: frozenset({"Integer64"}),
    AvpUnsigned64: frozenset({"Unsigned64"}),
    AvpFloat32: frozenset({"Float32"}),
    AvpFloat64: frozenset({"Float64"}),
    AvpTime: frozenset({"Time"}),
    AvpGrouped: frozenset({"Grouped"}),
}

# Where our name for a (code, vendor) differs from python-diameter's: ours is the specification's.
NAME_DIFFERS = {
    "Acct-Multi-Session-Id": "RFC 6733 §9.8.5 name; python-diameter says Accounting-Multi-Session-Id",
    "Reporting-Reason": "TS 32.299 §7.2 name; python-diameter says 3GPP-Reporting-Reason",
    "SIP-Method": "TS 32.299 name of 824; python-diameter says 3GPP-SIP-Method (its SIP-Method is RFC 4740's 393)",
    "User-Session-Id": "TS 32.299 spelling; python-diameter says User-Session-ID",
    "Number-Of-Messages-Sent": "TS 32.299 spelling; python-diameter says Number-of-Messages-Sent",
}

# Where our data format differs from python-diameter's: ours is the specification's.
TYPE_DIFFERS = {
    "Result-Code": "RFC 6733 §7.1 Unsigned32; python-diameter Integer32",
    "Session-Binding": "RFC 6733 §8.17 Unsigned32; python-diameter Integer32",
    "Authorization-Lifetime": "RFC 6733 §8.9 Unsigned32; python-diameter Integer32",
    "Inband-Security-Id": "RFC 6733 §6.10 Unsigned32; python-diameter Integer32",
    "Redirect-Host": "RFC 6733 §6.12 DiameterURI; python-diameter UTF8String",
    "SIPTO-Local-Network-Permission": "TS 29.272 Table 7.3.1/1 Unsigned32; python-diameter Integer32",
    "Non-IP-Data-Delivery-Mechanism": "TS 29.272 Table 7.3.1/1 Unsigned32; python-diameter Integer32",
    "PDN-Connection-Continuity": "TS 29.272 Table 7.3.1/1 Unsigned32; python-diameter Integer32",
    "Operation-Mode": "TS 29.272 Table 7.3.1/1 Unsigned32; python-diameter Integer32",
}


def python_diameter_avps() -> Iterator[tuple[int, int, str, type]]:
    """(code, vendor, name, Avp class) of every AVP python-diameter knows."""
    for code, info in AVP_DICTIONARY.items():
        yield code, info.get("vendor", 0), info["name"], info["type"]
    for vendor, table in AVP_VENDOR_DICTIONARY.items():
        for code, info in table.items():
            yield code, info.get("vendor", vendor), info["name"], info["type"]


def disagreements(ours: Iterable[AvpDef], theirs: Iterable[tuple[int, int, str, type]],
                  vendors: tuple[int, ...] = (0, TGPP)) -> list[str]:
    """Every way `ours` differs from `theirs`: another name or an incompatible type for the same (code, vendor);
    a name they know in one of `vendors` (the ones our files use: other vendors' names may repeat ours) at no
    (code, vendor) we give it."""
    by_key: dict[tuple[int, int], list[tuple[str, type]]] = {}
    by_name: dict[str, set[tuple[int, int]]] = {}
    for code, vendor, name, cls in theirs:
        by_key.setdefault((code, vendor), []).append((name, cls))
        if vendor in vendors:
            by_name.setdefault(name, set()).add((code, vendor))
    out = []
    for a in ours:
        for name, cls in by_key.get((a.code, a.vendor_id), []):
            if name != a.name:
                out.append(f"name: {a.name} ({a.code}/{a.vendor_id}) is {name} in python-diameter")
            if a.type not in COMPATIBLE[cls]:
                out.append(f"type: {a.name} is {a.type}, {cls.__name__} in python-diameter")
        keys = by_name.get(a.name)
        if keys and (a.code, a.vendor_id) not in keys:
            out.append(f"code: {a.name} is {a.code}/{a.vendor_id}, {sorted(keys)} in python-diameter")
    return out


def _allowed(line: str) -> bool:
    kind, rest = line.split(": ", 1)
    name = rest.split(" ", 1)[0]
    return name in (TYPE_DIFFERS if kind == "type" else NAME_DIFFERS)


def test_codes_vendors_and_types_agree_with_python_diameter(d):
    found = disagreements(d.avps(), python_diameter_avps())
    assert [x for x in found if not _allowed(x)] == []


def test_allow_lists_are_all_still_needed(d):
    found = disagreements(d.avps(), python_diameter_avps())
    used = {x.split(": ", 1)[1].split(" ", 1)[0] for x in found}
    assert set(NAME_DIFFERS) | set(TYPE_DIFFERS) <= used


def test_most_of_our_avps_are_cross_checked(d):
    known = {(code, vendor) for code, vendor, _, _ in python_diameter_avps()}
    checked = [a for a in d.avps() if (a.code, a.vendor_id) in known]
    assert len(checked) >= 0.95 * len(d)


def test_the_cross_check_catches_a_wrong_code_type_or_name():
    theirs = [(1407, TGPP, "Visited-PLMN-Id", AvpOctetString), (416, 0, "CC-Request-Type", AvpInteger32)]
    assert disagreements([AvpDef(1407, TGPP, "Visited-PLMN-Id", "OctetString"),
                          AvpDef(416, 0, "CC-Request-Type", "Enumerated")], theirs) == []
    assert len(disagreements([AvpDef(1408, TGPP, "Visited-PLMN-Id", "OctetString")], theirs)) == 1
    assert len(disagreements([AvpDef(1407, TGPP, "Visited-PLMN-Id", "UTF8String")], theirs)) == 1
    assert len(disagreements([AvpDef(1407, 0, "Visited-PLMN-Id", "OctetString"),
                              AvpDef(416, 0, "CC-Request-Kind", "Enumerated")], theirs)) == 2


# --- (c) one definition per AVP across the files -------------------------------------------------------------

def definitions(files: dict[str, str]) -> dict[str, list[AvpDef]]:
    return {name: parse_file(tomllib.loads(text), name)[0] for name, text in files.items()}


def conflicts(by_file: dict[str, list[AvpDef]]) -> list[str]:
    """(code, vendor) defined under two names, or one name given two (code, vendor), across all files. A later
    file may redefine an AVP (same name and code) to extend its members: that is not a conflict."""
    names: dict[tuple[int, int], dict[str, str]] = {}
    keys: dict[str, dict[tuple[int, int], str]] = {}
    for file, avps in by_file.items():
        for a in avps:
            names.setdefault((a.code, a.vendor_id), {}).setdefault(a.name, file)
            keys.setdefault(a.name, {}).setdefault((a.code, a.vendor_id), file)
    out = [f"{key}: {sorted(n.items())}" for key, n in names.items() if len(n) > 1]
    out += [f"{name}: {sorted(k.items())}" for name, k in keys.items() if len(k) > 1]
    return out


def test_no_code_is_defined_under_two_names():
    files = {f.name: f.read_text() for f in sorted(SHIPPED.glob("*.toml"))}
    assert conflicts(definitions(files)) == []


def test_redefinitions_keep_name_code_and_type():
    by_file = definitions({f.name: f.read_text() for f in sorted(SHIPPED.glob("*.toml"))})
    seen: dict[str, AvpDef] = {}
    redefined = []
    for avps in by_file.values():
        for a in avps:
            if a.name in seen:
                redefined.append(a.name)
                assert (a.code, a.vendor_id, a.type) == (seen[a.name].code, seen[a.name].vendor_id, seen[a.name].type)
                assert set(seen[a.name].members) <= set(a.members), f"{a.name}: an extension keeps the members"
            seen[a.name] = a
    # TS 32.299 extends these two RFC 4006 AVPs; nothing else is defined twice
    assert sorted(redefined) == ["Multiple-Services-Credit-Control", "Used-Service-Unit"]


def test_the_conflict_check_catches_a_clash():
    one = 'vendor = 10415\n[avps]\nFoo = { code = 1, type = "Unsigned32" }\n'
    assert conflicts(definitions({"a": one, "b": one})) == []
    assert len(conflicts(definitions({"a": one, "b": one.replace("Foo", "Bar")}))) == 1
    assert len(conflicts(definitions({"a": one, "b": one.replace("code = 1", "code = 2")}))) == 1


# --- (d) commands and their required AVPs ---------------------------------------------------------------------

def test_credit_control_command(d):
    cc = d.command(272, 4)
    assert cc is not None and cc.name == "Credit-Control"
    assert cc.request_required == ("Session-Id", "Origin-Host", "Origin-Realm", "Destination-Realm",
                                   "Auth-Application-Id", "Service-Context-Id", "CC-Request-Type", "CC-Request-Number")
    assert cc.answer_required == ("Session-Id", "Result-Code", "Origin-Host", "Origin-Realm", "Auth-Application-Id",
                                  "CC-Request-Type", "CC-Request-Number")


def test_gx_commands(d):
    cc, ra = d.command(272, GX), d.command(258, GX)
    assert cc is not None and cc.application_id == GX and "Service-Context-Id" not in cc.request_required
    assert {"Session-Id", "Auth-Application-Id", "CC-Request-Type", "CC-Request-Number"} <= set(cc.request_required)
    assert ra is not None and ra.application_id == GX and "Re-Auth-Request-Type" in ra.request_required
    assert "Result-Code" not in cc.answer_required + ra.answer_required


S6A_BASE = ["Session-Id", "Auth-Session-State", "Origin-Host", "Origin-Realm"]


@pytest.mark.parametrize(("code", "name", "extra"), [
    (318, "Authentication-Information", ["Destination-Realm", "User-Name", "Visited-PLMN-Id"]),
    (316, "Update-Location", ["Destination-Realm", "User-Name", "RAT-Type", "ULR-Flags", "Visited-PLMN-Id"]),
    (321, "Purge-UE", ["Destination-Realm", "User-Name"]),
    (317, "Cancel-Location", ["Destination-Host", "Destination-Realm", "User-Name", "Cancellation-Type"]),
])
def test_s6a_commands(d, code, name, extra):
    c = d.command(code, S6A)
    assert c is not None and (c.name, c.application_id) == (name, S6A)
    assert sorted(c.request_required) == sorted(S6A_BASE + extra)
    # TS 29.272 §7.2: Result-Code is optional in S6a answers (Experimental-Result may replace it)
    assert list(c.answer_required) == S6A_BASE


def test_every_s6a_command_is_defined(d):
    assert {c.code for c in d.commands() if c.application_id == S6A} == set(range(316, 324))


# --- the names the code uses, with their codes from TS 29.272 §7.3, TS 29.212 §5.3, RFC 4006 §8 ---

@pytest.mark.parametrize(("name", "code", "vendor"), [
    ("Subscription-Data", 1400, TGPP), ("ULR-Flags", 1405, TGPP),
    ("ULA-Flags", 1406, TGPP), ("Visited-PLMN-Id", 1407, TGPP),
    ("Requested-EUTRAN-Authentication-Info", 1408, TGPP),
    ("Requested-UTRAN-GERAN-Authentication-Info", 1409, TGPP),
    ("Number-Of-Requested-Vectors", 1410, TGPP),
    ("Re-Synchronization-Info", 1411, TGPP),
    ("Authentication-Info", 1413, TGPP), ("E-UTRAN-Vector", 1414, TGPP),
    ("UTRAN-Vector", 1415, TGPP), ("GERAN-Vector", 1416, TGPP),
    ("Network-Access-Mode", 1417, TGPP), ("Item-Number", 1419, TGPP),
    ("Cancellation-Type", 1420, TGPP), ("Context-Identifier", 1423, TGPP),
    ("Subscriber-Status", 1424, TGPP),
    ("Operator-Determined-Barring", 1425, TGPP),
    ("All-APN-Configurations-Included-Indicator", 1428, TGPP),
    ("APN-Configuration-Profile", 1429, TGPP),
    ("APN-Configuration", 1430, TGPP),
    ("EPS-Subscribed-QoS-Profile", 1431, TGPP), ("AMBR", 1435, TGPP),
    ("RAT-Type", 1032, TGPP), ("PUA-Flags", 1442, TGPP), ("RAND", 1447, TGPP),
    ("XRES", 1448, TGPP), ("AUTN", 1449, TGPP), ("KASME", 1450, TGPP), ("Kc", 1453, TGPP),
    ("SRES", 1454, TGPP), ("PDN-Type", 1456, TGPP),
    ("Confidentiality-Key", 625, TGPP), ("Integrity-Key", 626, TGPP),
    ("MSISDN", 701, TGPP), ("Max-Requested-Bandwidth-UL", 516, TGPP),
    ("Max-Requested-Bandwidth-DL", 515, TGPP),
    ("QoS-Class-Identifier", 1028, TGPP),
    ("Allocation-Retention-Priority", 1034, TGPP),
    ("Priority-Level", 1046, TGPP), ("Pre-emption-Capability", 1047, TGPP),
    ("Pre-emption-Vulnerability", 1048, TGPP),
    ("Service-Selection", 493, 0),
    ("Immediate-Response-Preferred", 1412, TGPP), ("Supported-Features", 628, TGPP), ("Feature-List-ID", 629, TGPP),
    ("Feature-List", 630, TGPP), ("PDP-Address", 1227, TGPP), ("SGSN-Address", 1228, TGPP),
    ("PS-Information", 874, TGPP), ("Service-Information", 873, TGPP), ("Reporting-Reason", 872, TGPP),
    ("3GPP-Charging-Id", 2, TGPP), ("3GPP-PDP-Type", 3, TGPP), ("3GPP-SGSN-MCC-MNC", 18, TGPP),
    ("3GPP-RAT-Type", 21, TGPP), ("3GPP-User-Location-Info", 22, TGPP), ("Called-Station-Id", 30, 0),
    ("CC-Input-Octets", 412, 0), ("CC-Output-Octets", 414, 0), ("CC-Total-Octets", 421, 0),
    ("CC-Request-Number", 415, 0), ("CC-Request-Type", 416, 0), ("Rating-Group", 432, 0),
    ("Requested-Service-Unit", 437, 0), ("Service-Identifier", 439, 0), ("Subscription-Id", 443, 0),
    ("Subscription-Id-Data", 444, 0), ("Used-Service-Unit", 446, 0), ("Subscription-Id-Type", 450, 0),
    ("Multiple-Services-Indicator", 455, 0), ("Multiple-Services-Credit-Control", 456, 0),
    ("User-Equipment-Info", 458, 0), ("User-Equipment-Info-Type", 459, 0), ("User-Equipment-Info-Value", 460, 0),
    ("Service-Context-Id", 461, 0),
])
def test_names_the_code_uses(d, name, code, vendor):
    a = d.avp(name)
    assert (a.code, a.vendor_id) == (code, vendor)
    assert d.find(code, vendor) is a


def test_enumerations_the_code_and_tests_use(d):
    assert d.avp("CC-Request-Type").enum["UPDATE_REQUEST"] == 2
    assert d.avp("Subscription-Id-Type").enum == {"END_USER_E164": 0, "END_USER_IMSI": 1, "END_USER_SIP_URI": 2,
                                                  "END_USER_NAI": 3, "END_USER_PRIVATE": 4}
    assert d.avp("Reporting-Reason").enum["QUOTA_EXHAUSTED"] == 3
    assert d.avp("Multiple-Services-Indicator").enum["MULTIPLE_SERVICES_SUPPORTED"] == 1
    assert d.avp("User-Equipment-Info-Type").enum["IMEISV"] == 0
    assert d.avp("Auth-Session-State").enum["NO_STATE_MAINTAINED"] == s6a.NO_STATE_MAINTAINED
    assert d.avp("Network-Access-Mode").enum["ONLY_PACKET"] == s6a_data.NETWORK_ACCESS_MODE_ONLY_PACKET
    assert d.avp("Subscriber-Status").enum["OPERATOR_DETERMINED_BARRING"] == s6a_data.SUBSCRIBER_STATUS_ODB
    assert d.avp("Cancellation-Type").enum["MME_UPDATE_PROCEDURE"] == s6a.CANCELLATION_MME_UPDATE_PROCEDURE
    assert d.avp("RAT-Type").enum["EUTRAN"] == s6a.RAT_TYPE_EUTRAN
    assert {k.lower(): v for k, v in d.avp("PDN-Type").enum.items()} == s6a_data.PDN_TYPES


def test_gy_extends_the_rfc_4006_grouped_avps(d):
    mscc = d.avp("Multiple-Services-Credit-Control")
    assert (mscc.code, mscc.vendor_id) == (456, 0)
    assert {"Granted-Service-Unit", "Used-Service-Unit", "Rating-Group", "Reporting-Reason", "Trigger",
            "Quota-Holding-Time", "Time-Quota-Threshold", "Volume-Quota-Threshold"} <= set(mscc.members)
    usu = d.avp("Used-Service-Unit")
    assert {"CC-Total-Octets", "Reporting-Reason", "Event-Charging-TimeStamp"} <= set(usu.members)


# --- flag rules -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "flags"), [
    ("CC-Request-Type", AVP_MANDATORY),                    # RFC 4006 §12: M, never V
    ("User-Equipment-Info", 0),                            # RFC 4006 §12: M under MAY
    ("Called-Station-Id", AVP_MANDATORY),                  # RFC 7155
    ("Subscription-Data", AVP_VENDOR | AVP_MANDATORY),     # TS 29.272 Table 7.3.1/1: M, V
    ("PUR-Flags", AVP_VENDOR),                             # TS 29.272 Table 7.3.1/1: V, M under MUST NOT
    ("Feature-List", AVP_VENDOR),                          # TS 29.229 Table 6.3.1: V, M under MUST NOT
    ("RAT-Type", AVP_VENDOR),                              # TS 29.212 Table 5.3.0.1: V, M under MUST NOT
    ("Charging-Rule-Install", AVP_VENDOR | AVP_MANDATORY),  # TS 29.212 Table 5.3.0.1: M, V
    ("PS-Information", AVP_VENDOR | AVP_MANDATORY),        # TS 32.299 Table 7.2.0.1: M, V
    ("Service-Selection", AVP_MANDATORY),                  # RFC 5778: vendor 0
])
def test_flag_rules(d, name, flags):
    assert d.avp(name).flags == flags
    assert d.make(name, [] if d.avp(name).type == "Grouped" else 0 if d.avp(name).type in (
        "Enumerated", "Unsigned32") else "internet").flags == flags


def test_every_3gpp_avp_gets_the_vendor_bit(d):
    for a in d.avps():
        assert bool(a.flags & AVP_VENDOR) == (a.vendor_id != 0), a.name
