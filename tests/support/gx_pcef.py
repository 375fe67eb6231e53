"""A PCEF (the open5gs SMF's Gx side) for Gx end-to-end tests: python-diameter's node speaking Gx
(TS 29.212, application 16777238) to the daemon, with the CCR shapes the open5gs SMF sends (shared/PEERS.md)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any

from diameter.message.avp import Avp
from diameter.message.commands import CreditControlRequest
from diameter.node import Node as PdNode
from diameter.node import peer as _peer
from diameter.node.application import SimpleThreadingApplication

from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.diameter.typed import Group

GX, TGPP = 16777238, 10415

# python-diameter re-encodes a received message from its own classes, which drop the members of Gx groups it does
# not model (Charging-Rule-Install arrives empty): each message keeps the octets it came in, read with ocsd's
# dictionary below.
_from_bytes = _peer.Message.from_bytes.__func__  # type: ignore[attr-defined]


def _keeping_octets(cls: Any, msg_data: bytes, plain_msg: bool = False) -> Any:
    message = _from_bytes(cls, msg_data, plain_msg)
    message.raw_octets = bytes(msg_data)
    return message


_peer.Message.from_bytes = classmethod(_keeping_octets)  # type: ignore[method-assign,assignment]
INITIAL, UPDATE, TERMINATION = 1, 2, 3


def _v(code: int, value: Any) -> Avp:
    return Avp.new(code, TGPP, value=value)


class Pcef:
    def __init__(self, port: int, origin_host: str = "smf.test",
                 on_request: Callable[[Any], int] | None = None) -> None:
        self.node = PdNode(origin_host, "test", vendor_ids=[TGPP])
        self.node.wakeup_interval = 1
        peer = self.node.add_peer(f"aaa://ocsd.test:{port};transport=tcp", "test", ip_addresses=["127.0.0.1"],
                                  is_persistent=True, is_default=True)
        self.received: list[Any] = []
        self.origin_host = origin_host

        def handle(app: Any, message: Any) -> Any:  # a RAR: recorded, answered (RAA) with Result-Code
            self.received.append(message)
            answer = message.to_answer()
            answer.session_id = message.session_id
            answer.origin_host = origin_host.encode()
            answer.origin_realm = b"test"
            answer.result_code = on_request(message) if on_request is not None else 2001
            return answer

        self.app = SimpleThreadingApplication(GX, is_auth_application=True, request_handler=handle)
        self.node.add_application(self.app, [peer])
        self.node.start()
        self.app.wait_for_ready(timeout=10)

    def stop(self) -> None:
        self.node.stop(wait_timeout=2)

    def session(self) -> str:
        return f"{self.origin_host};{secrets.token_hex(6)}"

    def ccr(self, session: str, kind: int, number: int, *, imsi: str | None = None,
            msisdn: str | None = None, open5gs: bool = True,
            usage: tuple[str, int] | None = None) -> CreditControlRequest:
        ccr = CreditControlRequest()
        ccr.session_id = session
        ccr.origin_host = self.origin_host.encode()
        ccr.origin_realm = b"test"
        ccr.destination_realm = b"test"
        ccr.auth_application_id = GX
        ccr.cc_request_type = kind
        ccr.cc_request_number = number
        if imsi is not None:
            ccr.add_subscription_id(subscription_id_type=1, subscription_id_data=imsi)
        if msisdn is not None:
            ccr.add_subscription_id(subscription_id_type=0, subscription_id_data=msisdn)
        if usage is not None:  # Usage-Monitoring-Information {Monitoring-Key, Used-Service-Unit {CC-Total-Octets}}
            ccr.append_avp(_v(1067, [_v(1066, usage[0].encode()), Avp.new(446, value=[Avp.new(421, value=usage[1])])]))
        if kind == INITIAL and open5gs:  # the v2.7.7 SMF's CCR-I (PEERS.md)
            for avp in (
                _v(628, [Avp.new(266, value=TGPP), _v(629, 1),
                         _v(630, 0x0B)]),                                      # Supported-Features
                _v(1024, 1),                                                   # Network-Request-Support
                Avp.new(8, value=bytes([10, 45, 0, 7])),                       # Framed-IP-Address
                _v(1027, 5), _v(1032, 1004),                                   # IP-CAN-Type EPS, RAT-Type EUTRAN
                _v(1016, [_v(1041, 50_000_000), _v(1040, 100_000_000)]),       # QoS-Information APN-AMBR
                _v(1049, [_v(1028, 9), _v(1034, [_v(1046, 8), _v(1047, 1), _v(1048, 0)])]),
                _v(18, "00101"),                                               # 3GPP-SGSN-MCC-MNC
                _v(1050, "127.0.0.2"),                                         # AN-GW-Address
                Avp.new(30, value="internet"),                                 # Called-Station-Id
                _v(1009, 0), _v(1008, 1),                                      # Online DISABLE, Offline ENABLE
            ):
                ccr.append_avp(avp)
        return ccr

    def send(self, ccr: Any) -> Any:
        return self.app.send_request(ccr, timeout=5)


def read(answer: Any) -> Group:
    """The answer as ocsd's own dictionary reads it (every Gx AVP by name)."""
    return default_dictionary().read(Message.decode(answer.raw_octets))


__all__ = ["GX", "INITIAL", "TERMINATION", "UPDATE", "Pcef", "read"]
