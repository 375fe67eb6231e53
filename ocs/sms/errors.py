"""SMS refusals. Each is a ChargingError with a stable `code`: the Lua scripts refuse with `OCS <code> <detail>`
(ocs/store/lua/sms_*.lua) and `sms_error_from_reply` turns the reply back into the class. Pure."""

from __future__ import annotations

from ocs.charging.errors import ChargingError, error_from_reply


class SmsError(ChargingError):
    code = "sms_error"


class RateLimited(SmsError):
    """The account sent faster than its messages-per-second limit (token bucket, ocs/store/lua/sms_charge.lua)."""

    code = "rate_limited"

    def __init__(self, detail: str = "", retry_after_ms: int = 1000) -> None:
        super().__init__(detail)
        self.retry_after_ms = retry_after_ms


class SenderNotApproved(SmsError):
    code = "sender_not_approved"


class UnknownDispatch(SmsError):
    code = "unknown_dispatch"


class NoSmsTariff(SmsError):
    """No tariff of the account's plan matches the destination."""

    code = "no_sms_tariff"


class MessageConflict(SmsError):
    """The message id is already charged to another account."""

    code = "message_conflict"


class UnknownMessage(SmsError):
    code = "unknown_message"


class InvalidSms(SmsError, ValueError):
    """A charge request whose destination, parts, sender id or message id is not acceptable."""

    code = "invalid_sms"


SMS_ERRORS: dict[str, type[SmsError]] = {c.code: c for c in (RateLimited, SenderNotApproved, UnknownDispatch,
                                                            NoSmsTariff, MessageConflict, UnknownMessage,
                                                            InvalidSms)}

# HTTP status of each refusal (RFC 9110 §15; 429: RFC 6585 §4)
HTTP_STATUS: dict[str, int] = {"rate_limited": 429, "sender_not_approved": 403, "unknown_dispatch": 404,
                               "no_sms_tariff": 404, "message_conflict": 409, "unknown_message": 404,
                               "invalid_sms": 422}


def sms_error_from_reply(message: str) -> ChargingError | None:
    """`OCS <code> <detail>` -> the matching error (SMS codes first, then the charging ones), None otherwise."""
    if message.startswith("OCS "):
        code, _, detail = message[4:].partition(" ")
        cls = SMS_ERRORS.get(code)
        if cls is RateLimited:
            wait, _, rest = detail.partition(" ")
            return RateLimited(rest, int(wait) if wait.isdigit() else 1000)
        if cls is not None:
            return cls(detail)
    return error_from_reply(message)


__all__ = ["HTTP_STATUS", "InvalidSms", "MessageConflict", "NoSmsTariff", "RateLimited", "SenderNotApproved",
           "SmsError", "UnknownDispatch", "UnknownMessage", "sms_error_from_reply"]
