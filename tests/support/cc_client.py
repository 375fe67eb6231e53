"""python-diameter's node as a credit-control client of the daemon (a PGW on Gy, a PCEF on Gx): the connection,
the answer to the daemon's own requests (RAR, ASR), and the part of a CCR that every application shares."""

from __future__ import annotations

import secrets
from typing import Any

from diameter.message.commands import CreditControlRequest
from diameter.node import Node as PdNode
from diameter.node.application import SimpleThreadingApplication


class CreditControlClient:
    def __init__(self, port: int, origin_host: str, application_id: int) -> None:
        self.origin_host = origin_host
        self.application_id = application_id
        self.received: list[Any] = []
        self.node = PdNode(origin_host, "test", vendor_ids=[10415])
        self.node.wakeup_interval = 1
        peer = self.node.add_peer(f"aaa://ocsd.test:{port};transport=tcp", "test", ip_addresses=["127.0.0.1"],
                                  is_persistent=True, is_default=True)

        def handle(app: Any, message: Any) -> Any:
            self.received.append(message)
            return self.answer(app, message)

        self.app = SimpleThreadingApplication(application_id, is_auth_application=True, request_handler=handle)
        self.node.add_application(self.app, [peer])
        self.node.start()
        self.app.wait_for_ready(timeout=10)

    def answer(self, app: Any, message: Any) -> Any:
        """The answer to a request of the daemon's (RAA, ASA): DIAMETER_SUCCESS unless a subclass says other."""
        return self.success(message, 2001)

    def success(self, message: Any, result_code: int) -> Any:
        answer = message.to_answer()
        answer.session_id = message.session_id
        answer.origin_host = self.origin_host.encode()
        answer.origin_realm = b"test"
        answer.result_code = result_code
        return answer

    def stop(self) -> None:
        self.node.stop(wait_timeout=2)

    def session(self) -> str:
        return f"{self.origin_host};{secrets.token_hex(6)}"

    def send(self, request: Any) -> Any:
        return self.app.send_request(request, timeout=5)

    def base_ccr(self, session: str, kind: int, number: int, imsi: str | None,
                 msisdn: str | None) -> CreditControlRequest:
        """RFC 4006 §3.1: Session-Id, Origin-*, Destination-Realm (no Destination-Host: open5gs sends none),
        Auth-Application-Id, CC-Request-Type/Number and the Subscription-Ids given."""
        ccr = CreditControlRequest()
        ccr.session_id = session
        ccr.origin_host = self.origin_host.encode()
        ccr.origin_realm = b"test"
        ccr.destination_realm = b"test"
        ccr.auth_application_id = self.application_id
        ccr.cc_request_type = kind
        ccr.cc_request_number = number
        if imsi is not None:
            ccr.add_subscription_id(subscription_id_type=1, subscription_id_data=imsi)
        if msisdn is not None:
            ccr.add_subscription_id(subscription_id_type=0, subscription_id_data=msisdn)
        return ccr
