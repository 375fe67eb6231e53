"""S6a values shared by the HSS decisions (ocs.apps.s6a): the application, the dictionary as S6a writes AVPs,
and the Subscription-Data an MME receives in a ULA (TS 29.272 §7.3.2). Built by AVP name; no AVP codes here.
"""

from __future__ import annotations

from typing import Any

from ocs.diameter.avp import Avp
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.subscribers.profiles import ApnProfile, SubscriberProfile

APP_S6A = 16777251
TGPP = 10415

SUBSCRIBER_STATUS_SERVICE_GRANTED, SUBSCRIBER_STATUS_ODB = 0, 1  # §7.3.29
ODB_ALL_PACKET_ORIENTED_SERVICES_BARRED = 1 << 0  # §7.3.30
NETWORK_ACCESS_MODE_ONLY_PACKET = 2  # §7.3.21
PDN_TYPES = {"ipv4": 0, "ipv6": 1, "ipv4v6": 2, "ipv4_or_ipv6": 3}  # §7.3.62


def _d(dictionary: Dictionary | None) -> Dictionary:
    """The dictionary as S6a writes AVPs (the M-bit of re-used AVPs, TS 29.272 Table 7.3.1/2)."""
    return (dictionary if dictionary is not None else default_dictionary()).for_application(APP_S6A)


# --- subscription data ------------------------------------------------------------------------------------------

def tbcd(digits: str) -> bytes:
    """TBCD string (TS 29.002 §17.7.8): two digits an octet, low nibble first, odd length padded with F."""
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def _ambr(ul: int, dl: int) -> dict[str, int]:
    return {"Max-Requested-Bandwidth-UL": min(ul, 0xFFFFFFFF), "Max-Requested-Bandwidth-DL": min(dl, 0xFFFFFFFF)}


def subscription_data(s: SubscriberProfile, apn_profiles: dict[str, ApnProfile],
                      dictionary: Dictionary | None = None) -> Avp:
    """Subscription-Data (TS 29.272 §7.3.2) as open5gs's MME needs it: MSISDN, Subscriber-Status (with ODB when
    barred), Network-Access-Mode, AMBR, and the APN-Configuration-Profile whose first APN is the default."""
    data: dict[str, Any] = {"MSISDN": tbcd(s.msisdn)}
    if s.status == "barred":
        data["Subscriber-Status"] = SUBSCRIBER_STATUS_ODB
        data["Operator-Determined-Barring"] = ODB_ALL_PACKET_ORIENTED_SERVICES_BARRED
    else:
        data["Subscriber-Status"] = SUBSCRIBER_STATUS_SERVICE_GRANTED
    data["Network-Access-Mode"] = NETWORK_ACCESS_MODE_ONLY_PACKET
    data["AMBR"] = _ambr(s.ambr_ul, s.ambr_dl)
    configs = []
    for i, name in enumerate(s.apns, start=1):
        p = apn_profiles.get(name) or ApnProfile(name)
        configs.append({
            "Context-Identifier": i,
            "PDN-Type": PDN_TYPES[p.pdn_type],
            "Service-Selection": name,
            "EPS-Subscribed-QoS-Profile": {
                "QoS-Class-Identifier": p.qci,
                "Allocation-Retention-Priority": {
                    "Priority-Level": p.arp_priority,
                    "Pre-emption-Capability": 0 if p.preemption_capable else 1,  # §7.3.41: 0 = ENABLED
                    "Pre-emption-Vulnerability": 0 if p.preemption_vulnerable else 1}},
            "AMBR": _ambr(p.ambr_ul if p.ambr_ul is not None else s.ambr_ul,
                          p.ambr_dl if p.ambr_dl is not None else s.ambr_dl),
        })
    if configs:
        data["APN-Configuration-Profile"] = {
            "Context-Identifier": 1,  # the default APN: the first of the subscriber's list
            "All-APN-Configurations-Included-Indicator": "ALL_APN_CONFIGURATIONS_INCLUDED",
            "APN-Configuration": configs}
    return _d(dictionary).build({"Subscription-Data": data})[0]


__all__ = ["APP_S6A", "PDN_TYPES", "TGPP", "subscription_data", "tbcd"]
