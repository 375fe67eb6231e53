"""Hypothesis: values written by name read back equal, through the wire; unknown AVPs survive byte for byte."""

from __future__ import annotations

import ipaddress

from hypothesis import given
from hypothesis import strategies as st

from ocs.diameter.avp import Avp
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message

D = default_dictionary()

# one AVP of each type from the shipped dictionaries, and a strategy of its values
FIELDS = {
    "Auth-Application-Id": st.integers(0, 2**32 - 1),                          # Unsigned32
    "CC-Total-Octets": st.integers(0, 2**64 - 1),                              # Unsigned64
    "Exponent": st.integers(-(2**31), 2**31 - 1),                              # Integer32
    "Value-Digits": st.integers(-(2**63), 2**63 - 1),                          # Integer64
    "CC-Request-Type": st.integers(-(2**31), 2**31 - 1),                       # Enumerated: any number
    "Session-Id": st.text(max_size=30),                                        # UTF8String
    "Origin-Host": st.text(max_size=30),                                       # DiameterIdentity
    "Class": st.binary(max_size=30),                                           # OctetString
    "Event-Timestamp": st.integers(2**31 - 2208988800, 2**32 + 2**31 - 2208988800 - 1),  # Time, era 0 and 1
    "Host-IP-Address": st.one_of(st.ip_addresses(v=4), st.ip_addresses(v=6)),  # Address
}
unknown = st.builds(lambda code, data: Avp(code, 0, 0, data), st.integers(70000, 2**32 - 1), st.binary(max_size=20))
groups = st.fixed_dictionaries({"Rating-Group": st.integers(0, 2**32 - 1)},
                               optional={"Used-Service-Unit": st.fixed_dictionaries(
                                   {"CC-Total-Octets": st.integers(0, 2**64 - 1)})})


@given(st.fixed_dictionaries({}, optional=FIELDS), st.lists(groups, max_size=3), st.lists(unknown, max_size=3))
def test_written_by_name_reads_back_by_name(values, mscc, extra):
    message = Message(272, 4, 0xC0, 1, 2, [*D.build({**values, "Multiple-Services-Credit-Control": mscc}), *extra])
    wire = message.encode()
    back = Message.decode(wire)
    r = D.read(back)
    for name, value in values.items():
        got = r[name]
        if isinstance(value, (ipaddress.IPv4Address, ipaddress.IPv6Address)):
            assert got == value
        else:
            assert got == value and type(got) is type(value)
    groups_back = r.all("Multiple-Services-Credit-Control")
    assert [g["Rating-Group"] for g in groups_back] == [m["Rating-Group"] for m in mscc]
    for g, m in zip(groups_back, mscc, strict=True):
        if "Used-Service-Unit" in m:
            assert g["Used-Service-Unit"]["CC-Total-Octets"] == m["Used-Service-Unit"]["CC-Total-Octets"]
        else:
            assert g.get("Used-Service-Unit") is None
    assert [a for a in r.avps if a.code >= 70000] == extra  # unknown AVPs kept as they came
    assert back.encode() == wire
    assert D.answer(back, list(r)).encode()[20:] == wire[20:]  # a body echoed from the group is byte-exact
