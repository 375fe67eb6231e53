"""A PCEF (the open5gs SMF's Gx side) for Gx end-to-end tests: python-diameter's node speaking Gx
(TS 29.212, application 16777238) to the daemon, with the CCR shapes the open5gs SMF sends (shared/PEERS.md)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diameter.message.avp import Avp
from diameter.message.commands import CreditControlRequest
from diameter.node import peer as _peer

from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.diameter.typed import Group
from tests.support.cc_client import CreditControlClient

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


class Pcef(CreditControlClient):
    def __init__(self, port: int, origin_host: str = "smf.test",
                 on_request: Callable[[Any], int] | None = None) -> None:
        self.on_request = on_request
        super().__init__(port, origin_host, GX)

    def answer(self, app: Any, message: Any) -> Any:  # a RAR: recorded, answered (RAA) with Result-Code
        return self.success(message, self.on_request(message) if self.on_request is not None else 2001)

    def ccr(self, session: str, kind: int, number: int, *, imsi: str | None = None,
            msisdn: str | None = None, open5gs: bool = True,
            usage: tuple[str, int] | None = None) -> CreditControlRequest:
        ccr = self.base_ccr(session, kind, number, imsi, msisdn)
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



def read(answer: Any) -> Group:
    """The answer as ocsd's own dictionary reads it (every Gx AVP by name)."""
    return default_dictionary().read(Message.decode(answer.raw_octets))


__all__ = ["GX", "INITIAL", "TERMINATION", "UPDATE", "Pcef", "read"]
