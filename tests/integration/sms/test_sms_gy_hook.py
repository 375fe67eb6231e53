"""SMS over Gy (issue 18 point 2): a CCR-E with Service-Context-Id 32274@3gpp.org and SMS-Information is priced by
the SMS tariffs and charged by the same service as the HTTP API (real Redis and PostgreSQL): the debit, its
retransmission, no funds (4012), a sender id not approved (4010), the rate limit (3004), REFUND_ACCOUNT, and a
destination without SMS tariff left to Gy's own rating (None)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ocs.apps.gy_messages import APP_GY, parse_ccr
from ocs.diameter.codes import DIAMETER_SUCCESS, DIAMETER_TOO_BUSY, FLAG_REQUEST
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.services.charging import ChargingService
from ocs.sms.gy_hook import SMS_SERVICE_CONTEXT, SmsGyHook
from ocs.sms.service import SmsService

pytestmark = pytest.mark.asyncio
D = default_dictionary()


def ccr(imsi: str, to: str, *, parts: int = 1, action: int = 0, sender: str | None = None,
        session: str | None = None) -> Message:
    sms: dict[str, Any] = {"Recipient-Info": [{"Recipient-Address": {"Address-Type": 1, "Address-Data": to}}]}
    if sender is not None:
        sms["Originator-Received-Address"] = {"Address-Type": 5, "Address-Data": sender}
    values = {"Session-Id": session or "smsc.test;" + secrets.token_hex(6), "Origin-Host": "smsc.test",
              "Origin-Realm": "test", "Destination-Realm": "ocs.test", "Auth-Application-Id": APP_GY,
              "Service-Context-Id": SMS_SERVICE_CONTEXT, "CC-Request-Type": 4, "CC-Request-Number": 0,
              "Subscription-Id": [{"Subscription-Id-Type": 1, "Subscription-Id-Data": imsi}],
              "Requested-Action": action,
              "Multiple-Services-Credit-Control": [{"Requested-Service-Unit": {"CC-Service-Specific-Units": parts},
                                                    "Rating-Group": 30}],
              "Service-Information": {"SMS-Information": sms}}
    code = D.command_named("Credit-Control", APP_GY).code
    return Message(code, APP_GY, FLAG_REQUEST, 1, 1, D.build(values))


async def call(hook: SmsGyHook, m: Message) -> tuple[int, dict[str, Any]] | None:
    return await hook.event(m, parse_ccr(m, D, 1), None)  # type: ignore[arg-type]


async def test_sms_ccr_event(sms: SmsService, service: ChargingService,
                             new_subscriber: Callable[[], Awaitable[str]]) -> None:
    imsi = await new_subscriber()
    account = await service.open_account("EUR")
    await service.link_sim(account, imsi, "7" + imsi[-10:])
    await service.top_up(account, 10, "t")
    hook = SmsGyHook(sms, service, D)
    m = ccr(imsi, "254712345678", parts=2)
    result = await call(hook, m)
    assert result is not None and result[0] == DIAMETER_SUCCESS
    granted = result[1]["Multiple-Services-Credit-Control"][0]
    assert granted["Granted-Service-Unit"] == {"CC-Service-Specific-Units": 2}
    assert (await service.account(account)).balance == 4  # 25471: 3 a part
    assert (await call(hook, m))[0] == DIAMETER_SUCCESS  # type: ignore[index]  # retransmission: once
    assert (await service.account(account)).balance == 4
    assert (await call(hook, ccr(imsi, "254712345678", parts=2)))[0] == 4012  # type: ignore[index]
    assert (await call(hook, ccr(imsi, "254712345678", sender="ACME")))[0] == 4010  # type: ignore[index]
    assert await call(hook, ccr(imsi, "33612345678")) is None  # no SMS tariff: Gy's own rating
    refund = await call(hook, ccr(imsi, "254712345678", action=1, session=parse_ccr(m, D, 1).session_id))
    assert refund == (DIAMETER_SUCCESS, {})
    assert (await service.account(account)).balance == 10
    await sms.set_account(account, rate_limit=1)
    assert (await call(hook, ccr(imsi, "254712345678")))[0] == DIAMETER_SUCCESS  # type: ignore[index]
    with pytest.raises(DiameterError) as slow:
        await call(hook, ccr(imsi, "254712345678"))
    assert slow.value.result_code == DIAMETER_TOO_BUSY
