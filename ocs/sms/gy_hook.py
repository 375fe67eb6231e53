"""SMS through Gy event charging (issue 18 point 2): a CCR-E with Service-Context-Id 32274@3gpp.org (TS 32.274
§6.1, SMS charging) is priced by the SMS tariffs and charged by the same SmsService as POST /api/v1/sms/charge.

The Gy application (ocs.apps.gy) calls `SmsGyHook.event` for such a CCR-E; the hook answers (result code,
answer AVPs) or None to leave the request to Gy's own rating-group tariff (no SMS tariff for the destination,
or an action other than a debit or a refund). Read from the CCR (TS 32.299 §7.2.158 SMS-Information):
destination = Recipient-Info / Recipient-Address / Address-Data; sender id = Originator-Received-Address /
Address-Data when its Address-Type is ALPHANUMERIC_SHORTCODE (an A2P sender id, which needs approval); parts =
the MSCC's Requested-Service-Unit CC-Service-Specific-Units (else 1). The message id is the Session-Id (one
event, one session: RFC 4006 §5.2). Results: a debit the account cannot pay 4012 DIAMETER_CREDIT_LIMIT_REACHED
(RFC 4006 §9.1); a sender id not approved 4010 DIAMETER_END_USER_SERVICE_DENIED; the account's rate limit
3004 DIAMETER_TOO_BUSY (RFC 6733 §7.1.3, the client retries later).
"""

from __future__ import annotations

from typing import Any

from ocs.apps.dispatch import Context
from ocs.apps.errors import DIAMETER_CREDIT_LIMIT_REACHED, DIAMETER_END_USER_SERVICE_DENIED
from ocs.apps.gy_events import cost_information, wants_cost
from ocs.apps.gy_messages import DIRECT_DEBITING, REFUND_ACCOUNT, UNIT_AVP, CreditControlRequest
from ocs.charging.errors import InsufficientFunds
from ocs.charging.model import Unit
from ocs.diameter.codes import DIAMETER_SUCCESS, DIAMETER_TOO_BUSY
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.services.charging import ChargingService
from ocs.sms import metrics
from ocs.sms.errors import InvalidSms, NoSmsTariff, RateLimited, SenderNotApproved
from ocs.sms.events import SubmitResult
from ocs.sms.service import ChargeRequest, SmsService
from ocs.subscribers.errors import UnknownUser

SMS_SERVICE_CONTEXT = "32274@3gpp.org"
ALPHANUMERIC_SHORTCODE = 5  # TS 32.299 §7.2.11 Address-Type


def _address(group: Any) -> tuple[str | None, int | None]:
    if group is None:
        return None, None
    data = group.get("Address-Data")
    return (data if isinstance(data, str) and data else None), group.get("Address-Type")


def sms_fields(request: Message, d: Dictionary) -> tuple[str | None, str | None]:
    """(destination, alphanumeric sender id) from the CCR's SMS-Information."""
    r = d.read(request)
    info = r.get("Service-Information")
    sms = info.get("SMS-Information") if info is not None else None
    if sms is None:
        return None, None
    destination = None
    for recipient in sms.all("Recipient-Info"):
        destination, _ = _address(recipient.get("Recipient-Address"))
        if destination:
            break
    sender, kind = _address(sms.get("Originator-Received-Address"))
    return destination, sender if kind == ALPHANUMERIC_SHORTCODE else None


class SmsGyHook:
    def __init__(self, sms: SmsService, charging: ChargingService, dictionary: Dictionary | None = None) -> None:
        self.sms = sms
        self.charging = charging
        self.d = dictionary if dictionary is not None else default_dictionary()

    async def _account(self, ccr: CreditControlRequest) -> str:
        if ccr.imsi is not None:
            return await self.charging.account_of_imsi(ccr.imsi)
        if ccr.msisdn is not None:
            return await self.charging.account_of_msisdn(ccr.msisdn)
        raise UnknownUser("no Subscription-Id")

    async def event(self, request: Message, ccr: CreditControlRequest, _ctx: Context
                    ) -> tuple[int, dict[str, Any]] | None:
        if ccr.service_context_id != SMS_SERVICE_CONTEXT:
            return None
        if ccr.requested_action == REFUND_ACCOUNT:
            done = await self.sms.submit_result(SubmitResult(ccr.session_id, "REFUND_ACCOUNT"))
            if not done.found:
                return None  # not charged as an SMS: Gy's own refund
            if done.refunded:
                metrics.refunds_total.inc(("REFUND_ACCOUNT",))
                metrics.refunded_minor_total.inc((), done.refunded)
            return DIAMETER_SUCCESS, {}
        if ccr.requested_action != DIRECT_DEBITING:
            return None
        destination, sender = sms_fields(request, self.d)
        if destination is None:
            return None
        s = ccr.services[0]
        parts = (s.requested.of(Unit.EVENTS) if s.requested is not None else None) or 1
        account = await self._account(ccr)
        try:
            r = await self.sms.charge(ChargeRequest(account, ccr.session_id, destination, parts, sender))
        except NoSmsTariff:
            return None
        except InsufficientFunds:
            metrics.charges_total.inc(("gy", "insufficient_funds"))
            return DIAMETER_CREDIT_LIMIT_REACHED, {}
        except SenderNotApproved:
            metrics.charges_total.inc(("gy", "sender_not_approved"))
            return DIAMETER_END_USER_SERVICE_DENIED, {}
        except RateLimited as e:
            metrics.charges_total.inc(("gy", "rate_limited"))
            raise DiameterError(DIAMETER_TOO_BUSY, "SMS rate limit") from e
        except InvalidSms:
            return None
        metrics.charges_total.inc(("gy", "duplicate" if r.duplicate else "charged"))
        if not r.duplicate:
            metrics.charged_minor_total.inc((), r.price)
        granted = {"Granted-Service-Unit": {UNIT_AVP[Unit.EVENTS]: parts}, "Rating-Group": s.rating_group,
                   "Result-Code": DIAMETER_SUCCESS}
        values: dict[str, Any] = {"Multiple-Services-Credit-Control": [granted]}
        if wants_cost(ccr):
            currency = self.sms.book.currency(r.plan)
            if currency:
                values["Cost-Information"] = cost_information(r.price, currency)
        return DIAMETER_SUCCESS, values


__all__ = ["SMS_SERVICE_CONTEXT", "SmsGyHook", "sms_fields"]
