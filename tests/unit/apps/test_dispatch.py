"""The one dispatch: the table, the context, and every way a handler's error becomes an answer."""

from __future__ import annotations

import asyncio

import pytest

from ocs.apps.credit_control import CreditControlRefusal
from ocs.apps.dispatch import Context, Dispatch, Route
from ocs.apps.errors import TABLE, result_for
from ocs.charging.errors import ChargingError, InsufficientFunds, UnknownSubscriber
from ocs.diameter.capabilities import Application
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.subscribers.errors import Blocked, ResyncFailed, StoreUnavailable, UnknownSession, UnknownUser
from tests.support.s6a_golden import FakeAuc, FakeRegs, request_for

D = default_dictionary()
GY = Application(4)


def ccr() -> Message:
    return Message(272, 4, 0xC0, 7, 8, D.build({
        "Session-Id": "smf;1", "Origin-Host": "smf.test", "Origin-Realm": "test", "Destination-Realm": "test",
        "Auth-Application-Id": 4, "Service-Context-Id": "32251@3gpp.org", "CC-Request-Type": "UPDATE_REQUEST",
        "CC-Request-Number": 4}))


class Gy:
    """A credit-control application whose handler raises what it is told to."""

    name = "credit_control"
    application = GY

    def __init__(self, raise_: Exception | None, awaitable: bool = False) -> None:
        self.raise_ = raise_
        self.awaitable = awaitable
        self.refusal = CreditControlRefusal("ocs.test", "test")
        self.seen: list[Context] = []

    def routes(self):  # noqa: ANN201
        return [(272, "CCR", self.ccr)]

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None) -> Message:
        return self.refusal.refuse(request, error, cause)

    def ccr(self, request: Message, ctx: Context):  # noqa: ANN201
        self.seen.append(ctx)

        def decide() -> Message:
            if self.raise_ is not None:
                raise self.raise_
            r = D.read(request)
            return D.answer(request, {"Session-Id": r.avp("Session-Id"), "Result-Code": 2001,
                                      "Origin-Host": "ocs.test", "Origin-Realm": "test", "Auth-Application-Id": 4,
                                      "CC-Request-Type": r["CC-Request-Type"],
                                      "CC-Request-Number": r["CC-Request-Number"]})

        if not self.awaitable:
            return decide()

        async def later() -> Message:
            await asyncio.sleep(0)
            return decide()
        return later()


async def _no_send(peer: str, message: Message) -> Message:
    raise ConnectionError(peer)


CTX = Context("smf.test", "test", 3, _no_send)


def run(dispatch: Dispatch, request: Message) -> Message:
    route = dispatch.route(request.application_id, request.command_code)
    assert route is not None
    result = dispatch.dispatch(route, request, CTX)
    return result if isinstance(result, Message) else asyncio.run(result)  # type: ignore[arg-type]


def table(app: Gy) -> tuple[Dispatch, list[tuple[str, str, BaseException]]]:
    reports: list[tuple[str, str, BaseException]] = []
    dispatch = Dispatch("ocs.test", "test", lambda event, route, error: reports.append((event, route.app_name, error)))
    dispatch.add(app)
    return dispatch, reports


@pytest.mark.parametrize("awaitable", [False, True])
@pytest.mark.parametrize(("error", "code", "e_bit", "report"), [
    (None, 2001, False, None),
    (UnknownUser("x"), 5030, False, None),            # RFC 4006 §9.1 DIAMETER_USER_UNKNOWN
    (UnknownSubscriber("x"), 5030, False, None),      # the charging engine's own class, mapped too
    (InsufficientFunds("x"), 4012, False, None),      # DIAMETER_CREDIT_LIMIT_REACHED
    (Blocked("x"), 4010, False, None),                # DIAMETER_END_USER_SERVICE_DENIED
    (UnknownSession("x"), 5002, False, None),         # DIAMETER_UNKNOWN_SESSION_ID
    (StoreUnavailable("redis"), 3004, True, "transient"),  # DIAMETER_TOO_BUSY, never 5012
    (DiameterError(5004, "bad value"), 5004, False, None),
    (RuntimeError("bug"), 5012, False, "handler-failed"),
    (ChargingError("unmapped"), 5012, False, "handler-failed"),
])
def test_credit_control_refusals_echo_request_type_and_number(error, code, e_bit, report, awaitable):
    dispatch, reports = table(Gy(error, awaitable))
    answer = Message.decode(run(dispatch, ccr()).encode())
    r = D.read(answer)
    assert r["Result-Code"] == code and answer.is_error == e_bit
    assert (answer.hop_by_hop, answer.end_to_end) == (7, 8)
    assert (r["Session-Id"], r["CC-Request-Type"], r["CC-Request-Number"]) == ("smf;1", 2, 4)  # RFC 4006 §3.2
    assert (r["Origin-Host"], r["Auth-Application-Id"]) == ("ocs.test", 4)
    assert [event for event, _, _ in reports] == ([report] if report else [])


def test_the_context_names_the_peer_and_sends_to_it_or_another():
    sent: list[tuple[str, int]] = []

    async def send(peer: str, message: Message) -> Message:
        sent.append((peer, message.command_code))
        return message.answer()

    ctx = Context("mme1.test", "test", 9, send)
    clr = Message(317, 16777251)
    asyncio.run(ctx.request(clr))  # type: ignore[arg-type]
    asyncio.run(ctx.request(clr, to="mme2.test"))  # type: ignore[arg-type]
    assert sent == [("mme1.test", 317), ("mme2.test", 317)]
    app = Gy(None)
    dispatch, _ = table(app)
    run(dispatch, ccr())
    assert app.seen == [CTX]


def test_the_table_refuses_a_second_handler_and_lists_applications():
    dispatch, _ = table(Gy(None))
    with pytest.raises(ValueError):
        dispatch.add(Gy(None))
    assert dispatch.applications == (GY,) and dispatch.commands == frozenset({(4, 272)})
    assert [r.command_name for r in dispatch] == ["CCR"] and isinstance(next(iter(dispatch)), Route)


def test_s6a_refusals_are_experimental_results_and_store_outage_is_4181_for_air():
    from ocs.apps.s6a import Identity, S6a

    class DownAuc(FakeAuc):
        async def vectors(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201
            raise StoreUnavailable("redis", "timed out")

    class DownRegs(FakeRegs):
        async def profile(self, imsi: str):  # noqa: ANN201
            raise StoreUnavailable("postgres")

    dispatch, reports = table(S6a(Identity("hss.test", "test"), DownAuc(), DownRegs()))  # type: ignore[arg-type]
    aia = D.read(run(dispatch, request_for("air")))
    assert aia["Experimental-Result"]["Experimental-Result-Code"] == 4181  # TS 29.272 §7.4.4
    assert aia["Experimental-Result"]["Vendor-Id"] == 10415 and aia["Auth-Session-State"] == 1
    ula = run(dispatch, request_for("ulr"))
    assert D.read(ula)["Result-Code"] == 3004 and ula.is_error
    assert [event for event, _, _ in reports] == ["transient", "transient"]


def test_every_row_of_the_error_table_is_reached_by_its_class():
    for (cls, app, command), result in TABLE.items():
        error = cls("redis") if cls is StoreUnavailable else cls()
        assert result_for(error, app, command or "any") == result

    class SpecialUnknown(UnknownUser):
        pass

    assert result_for(SpecialUnknown(), "s6a", "ULR") == TABLE[(UnknownUser, "s6a", None)]
    assert result_for(ResyncFailed(), "s6a", "AIR").code == 4181  # type: ignore[union-attr]
    assert result_for(ResyncFailed(), "credit_control", "CCR") is None


# --- RADIUS (issue 11): the same dispatch idea over packet codes ----------------------------------------------

def _radius_request(code: int):
    from pyrad.packet import AcctPacket, AuthPacket

    from radius.clients import RadiusClient
    from radius.dictionary import load_dictionary
    from radius.packets import check_request
    d = load_dictionary()
    pkt = (AuthPacket if code == 1 else AcctPacket)(id=1, secret=b"s", dict=d)
    pkt["User-Name"] = "v"
    return check_request(pkt.RequestPacket(), RadiusClient("10.0.0.1", "r", b"s"), d)


@pytest.mark.parametrize(("error", "code", "message"), [
    ("UnknownVoucher", 3, "Unknown code or wrong password"),
    ("VoucherUsedUp", 3, "This code is used up"),
    ("BoundToOtherDevice", 3, "This code is in use on another device"),
    ("StoreUnavailable", 3, "Service unavailable, please try again"),
])
def test_radius_domain_errors_become_access_reject_with_a_reply_message(error, code, message):
    import radius.errors as hotspot_errors
    from ocs.apps.dispatch import RadiusContext, RadiusDispatch
    from ocs.subscribers.errors import StoreUnavailable
    cls = StoreUnavailable if error == "StoreUnavailable" else getattr(hotspot_errors, error)
    exc = cls("redis") if cls is StoreUnavailable else cls("v")
    reports: list[str] = []
    dispatch = RadiusDispatch(report=lambda event, route, e: reports.append(event))

    def refuse(request, ctx):
        raise exc

    dispatch.register(1, refuse)
    dispatch.register(4, refuse)
    ctx = RadiusContext("r", "10.0.0.1", 1000)
    reply = dispatch.dispatch(dispatch.route(1), _radius_request(1), ctx)
    assert reply.code == code and reply.attributes == (("Reply-Message", message),)
    assert dispatch.dispatch(dispatch.route(4), _radius_request(4), ctx) is None  # accounting: no reply
    assert reports == (["transient", "transient"] if cls is StoreUnavailable else [])


def test_radius_unexpected_error_is_reported_and_not_answered():
    from ocs.apps.dispatch import RadiusContext, RadiusDispatch
    reports: list[str] = []
    dispatch = RadiusDispatch(report=lambda event, route, e: reports.append(event))

    def broken(request, ctx):
        raise RuntimeError("bug")

    dispatch.register(1, broken)
    assert dispatch.dispatch(dispatch.route(1), _radius_request(1), RadiusContext("r", "10.0.0.1", 1)) is None
    assert reports == ["handler-failed"]
