"""Credit control (RFC 4006; Gy TS 32.299, Gx TS 29.212): how a refusal becomes an answer.

RFC 4006 §3.2 (and §8): a CCA carries Session-Id, Result-Code, Origin-Host, Origin-Realm, Auth-Application-Id,
CC-Request-Type and CC-Request-Number, so a refused CCR still gets those two echoed (a client matches the
answer to its request by them). Protocol errors (3xxx) set the E bit (RFC 6733 §7.1.3) and add
Error-Reporting-Host; Failed-AVP names the offending AVP (§7.5). The Gy and Gx applications use this `refuse`,
and `subscription_ids` to know whom a CCR is about.
"""

from __future__ import annotations

from typing import Any

from ocs.diameter.answers import error_answer
from ocs.diameter.codes import DIAMETER_INVALID_AVP_VALUE, DIAMETER_MISSING_AVP, is_protocol_error
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.typed import Group

INITIAL, UPDATE, TERMINATION, EVENT = 1, 2, 3, 4  # RFC 4006 §8.3 CC-Request-Type
END_USER_E164, END_USER_IMSI = 0, 1  # RFC 4006 §8.47 Subscription-Id-Type


def subscription_ids(r: Group) -> tuple[str | None, str | None]:
    """(IMSI, MSISDN) a CCR names in RFC 4006 §8.46 Subscription-Id: at the top level, or (TS 32.299) inside
    Service-Information. The first of each kind counts; a malformed one is 5005 or 5004."""
    groups = r.all("Subscription-Id")
    if not groups:
        info = r.get("Service-Information")
        groups = info.all("Subscription-Id") if info is not None else []
    imsi = msisdn = None
    for g in groups:
        kind, data = g.get("Subscription-Id-Type"), g.get("Subscription-Id-Data")
        if kind is None or not data:
            raise DiameterError(DIAMETER_MISSING_AVP if kind is None or data is None else DIAMETER_INVALID_AVP_VALUE,
                                "Subscription-Id needs a type and data", r.avp("Subscription-Id"))
        if kind == END_USER_IMSI:
            if not (data.isdigit() and 6 <= len(data) <= 15):
                raise DiameterError(DIAMETER_INVALID_AVP_VALUE, "END_USER_IMSI is not an IMSI",
                                    r.avp("Subscription-Id"))
            imsi = imsi or data
        elif kind == END_USER_E164:
            msisdn = msisdn or data.lstrip("+")
    return imsi, msisdn





class CreditControlRefusal:
    def __init__(self, origin_host: str, origin_realm: str, dictionary: Dictionary | None = None) -> None:
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.d = dictionary if dictionary is not None else default_dictionary()

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None = None) -> Message:
        try:
            r = self.d.read(request)
            echoed = {name: r.avp(name) for name in ("Session-Id", "CC-Request-Type", "CC-Request-Number")}
        except DiameterError:  # the AVPs themselves do not parse: the base protocol's answer
            return error_answer(request, self.origin_host, self.origin_realm, error)
        protocol = is_protocol_error(error.result_code) and not error.vendor_id
        values: dict[str, Any] = {"Session-Id": echoed["Session-Id"]}
        if error.vendor_id:
            values["Experimental-Result"] = {"Vendor-Id": error.vendor_id,
                                             "Experimental-Result-Code": error.result_code}
        else:
            values["Result-Code"] = error.result_code
        values.update({
            "Origin-Host": self.origin_host, "Origin-Realm": self.origin_realm,
            "Auth-Application-Id": request.application_id,
            "CC-Request-Type": echoed["CC-Request-Type"], "CC-Request-Number": echoed["CC-Request-Number"],
            "Error-Message": error.message or None,
            "Error-Reporting-Host": self.origin_host if protocol else None,
            "Failed-AVP": (error.failed_avp,) if error.failed_avp is not None else None,
        })
        return self.d.answer(request, values, error=protocol)


__all__ = ["CreditControlRefusal"]
