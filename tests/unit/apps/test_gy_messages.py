"""Reading a Gy CCR and building its MSCC by name (RFC 4006 §8, TS 32.299 §7): units (Input + Output when no
Total), several Used-Service-Unit adding up, Reporting-Reason in the MSCC or its USU, IMSI over E164, the
default rating group, single-service RSU at the top level, thresholds and Final-Unit-Indication."""

from __future__ import annotations

import pytest

from ocs.apps.gy_messages import (
    FINAL,
    INITIAL,
    QUOTA_EXHAUSTED,
    REDIRECT,
    UPDATE,
    FinalUnit,
    Units,
    mscc,
    parse_ccr,
)
from ocs.charging.model import Unit
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError

d = default_dictionary()


def ccr(kind: int = UPDATE, **extra: object) -> object:
    return d.request("Credit-Control", 4, {
        "Session-Id": "pgw;1", "Origin-Host": "pgw", "Origin-Realm": "test", "Destination-Realm": "test",
        "Auth-Application-Id": 4, "Service-Context-Id": "32251@3gpp.org", "CC-Request-Type": kind,
        "CC-Request-Number": 3, **extra})


def test_units_octets_total_or_input_plus_output():
    assert Units(total_octets=5, input_octets=1, output_octets=1).of(Unit.OCTETS) == 5
    assert Units(input_octets=1, output_octets=2).of(Unit.OCTETS) == 3
    assert Units(time=7).of(Unit.OCTETS) is None and Units(time=7).of(Unit.SECONDS) == 7
    assert Units(service_specific=1).of(Unit.EVENTS) == 1


def test_mscc_usage_reasons_and_default_rating_group():
    r = parse_ccr(ccr(INITIAL, **{
        "Subscription-Id": [{"Subscription-Id-Type": 0, "Subscription-Id-Data": "+4917000"},
                            {"Subscription-Id-Type": 1, "Subscription-Id-Data": "001010000000001"}],
        "Multiple-Services-Credit-Control": [
            {"Used-Service-Unit": [{"CC-Input-Octets": 10, "CC-Output-Octets": 5},
                                   {"CC-Total-Octets": 100, "Reporting-Reason": QUOTA_EXHAUSTED}]},
            {"Rating-Group": 20, "Requested-Service-Unit": {}, "Reporting-Reason": FINAL,
             "Used-Service-Unit": {"CC-Time": 9}},
        ]}), d, default_rating_group=7)
    assert (r.imsi, r.msisdn, r.request_number) == ("001010000000001", "4917000", 3)
    first, second = r.services
    assert first.rating_group == 7 and first.requested is None
    assert first.used.of(Unit.OCTETS) == 115 and first.reporting_reason == QUOTA_EXHAUSTED
    assert second.rating_group == 20 and second.requested == Units() and second.reporting_reason == FINAL
    assert second.used.of(Unit.SECONDS) == 9


def test_no_mscc_is_one_service_of_the_default_rating_group():
    r = parse_ccr(ccr(INITIAL), d, default_rating_group=7)
    assert [(s.rating_group, s.requested) for s in r.services] == [(7, Units())]


@pytest.mark.parametrize(("sub", "code"), [
    ({"Subscription-Id-Type": 1, "Subscription-Id-Data": "imsi?"}, 5004),
    ({"Subscription-Id-Type": 1}, 5005),
])
def test_bad_subscription_id(sub, code):
    with pytest.raises(DiameterError) as e:
        parse_ccr(ccr(INITIAL, **{"Subscription-Id": sub}), d, 1)
    assert e.value.result_code == code and e.value.failed_avp is not None


def test_mscc_answer_by_name():
    built = d.read(d.build({"Multiple-Services-Credit-Control": mscc(
        20, 2001, Unit.OCTETS, 1000, final=FinalUnit(REDIRECT, "http://top.up/"), validity_time=60,
        threshold_percent=20)}))["Multiple-Services-Credit-Control"]
    assert built["Granted-Service-Unit"]["CC-Total-Octets"] == 1000
    assert (built["Rating-Group"], built["Validity-Time"], built["Result-Code"]) == (20, 60, 2001)
    assert built["Volume-Quota-Threshold"] == 200
    fui = built["Final-Unit-Indication"]
    assert fui["Final-Unit-Action"] == REDIRECT
    assert fui["Redirect-Server"]["Redirect-Server-Address"] == "http://top.up/"
    refused = d.read(d.build({"Multiple-Services-Credit-Control": mscc(20, 4012)}))[
        "Multiple-Services-Credit-Control"]
    assert "Granted-Service-Unit" not in refused and refused["Result-Code"] == 4012
