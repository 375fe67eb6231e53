"""The daemon as HSS over TCP, python-diameter as the MME: AIR for 1 and 5 vectors checked by a USIM model,
resynchronisation, ULR with Subscription-Data, PUR, unknown IMSI, roaming refused, and a daemon killed between
two AIRs never repeating an SQN (TS 29.272, TS 33.102)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from diameter.message.avp.grouped import RequestedEutranAuthenticationInfo, VendorSpecificApplicationId
from diameter.message.commands import (
    AuthenticationInformationRequest,
    PurgeUeRequest,
    UpdateLocationRequest,
)
from diameter.node import Node as PdNode
from diameter.node.application import SimpleThreadingApplication

from auc import split_sqn
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.raw_s6a import provision
from tests.support.usim import Accepted, SyncFailure, Usim, usim_kasme

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

S6A, TGPP = 16777251, 10415
HOME = bytes.fromhex("00f110")  # 001/01
ELSEWHERE = bytes.fromhex("62f220")  # 262/02


@dataclass
class Hss:
    daemon: DaemonProcess
    port: int
    dsn: str
    config: Path

    def add(self, *, imsi: str | None = None, apns: tuple[str, ...] = ("internet",)) -> tuple[str, Usim]:
        imsi = imsi or f"00101{secrets.randbelow(10**10):010d}"
        k, opc = asyncio.run(provision(self.dsn, imsi, apns))
        return imsi, Usim(k, opc)

    def restart(self) -> None:
        self.daemon.kill()  # SIGKILL: no DPR, no goodbye
        self.daemon = DaemonProcess(self.config, module="ocsd")
        self.daemon.start()


@pytest.fixture
def hss(tmp_path: Path) -> Iterator[Hss]:
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=port, admin_port=free_port(),
                          applications=("s6a",), extra=backends_config(REDIS_URL, prefix, dsn) + """
[auc]
home_plmns = ["00101"]
seq_block = 4
""")
    h = Hss(DaemonProcess(config, module="ocsd"), port, dsn, config)
    try:  # the database is dropped even when the daemon does not start
        h.daemon.start()
        yield h
    finally:
        h.daemon.kill()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


class Mme:
    def __init__(self, port: int) -> None:
        self.node = PdNode("mme.test", "test", vendor_ids=[TGPP])
        self.node.wakeup_interval = 1  # its connection thread wakes (and can be joined at stop) every second
        peer = self.node.add_peer(f"aaa://ocsd.test:{port};transport=tcp", "test", ip_addresses=["127.0.0.1"],
                                  is_persistent=True, is_default=True)
        self.app = SimpleThreadingApplication(S6A, is_auth_application=True, request_handler=lambda app, m: None)
        self.node.add_application(self.app, [peer])
        self.node.start()
        self.app.wait_for_ready(timeout=10)
        self.sessions = 0

    def stop(self) -> None:
        self.node.stop(wait_timeout=2)

    def _session(self) -> str:
        self.sessions += 1
        return f"mme.test;{self.sessions};{secrets.token_hex(3)}"

    def _common(self, msg: object, imsi: str) -> None:
        msg.session_id = self._session()  # type: ignore[attr-defined]
        msg.vendor_specific_application_id = VendorSpecificApplicationId(  # type: ignore[attr-defined]
            vendor_id=TGPP, auth_application_id=S6A)
        msg.auth_session_state = 1  # type: ignore[attr-defined]
        msg.origin_host = b"mme.test"  # type: ignore[attr-defined]
        msg.origin_realm = b"test"  # type: ignore[attr-defined]
        msg.destination_realm = b"test"  # type: ignore[attr-defined]
        msg.user_name = imsi  # type: ignore[attr-defined]

    def air(self, imsi: str, vectors: int = 1, plmn: bytes = HOME, resync: bytes | None = None):  # noqa: ANN201
        air = AuthenticationInformationRequest()
        self._common(air, imsi)
        air.visited_plmn_id = plmn
        air.requested_eutran_authentication_info = RequestedEutranAuthenticationInfo(
            number_of_requested_vectors=vectors, immediate_response_preferred=1, re_synchronization_info=resync)
        return self.app.send_request(air, timeout=5)

    def ulr(self, imsi: str, plmn: bytes = HOME, flags: int = 0b100010):  # noqa: ANN201
        ulr = UpdateLocationRequest()
        self._common(ulr, imsi)
        ulr.rat_type = 1004
        ulr.ulr_flags = flags
        ulr.visited_plmn_id = plmn
        return self.app.send_request(ulr, timeout=5)

    def pur(self, imsi: str):  # noqa: ANN201
        pur = PurgeUeRequest()
        self._common(pur, imsi)
        return self.app.send_request(pur, timeout=5)


@pytest.fixture
def mme(hss: Hss) -> Iterator[Mme]:
    m = Mme(hss.port)
    try:
        yield m
    finally:
        m.stop()


def experimental_code(answer: object) -> int | None:
    er = getattr(answer, "experimental_result", None)
    return er.experimental_result_code if er is not None else None


def accept_all(usim: Usim, answer: object) -> list[int]:
    """Authenticate every vector of an AIA with the USIM; returns their SQNs."""
    sqns = []
    for v in answer.authentication_info.e_utran_vector:  # type: ignore[attr-defined]
        got = usim.authenticate(v.rand, v.autn)
        assert isinstance(got, Accepted), got
        assert got.res == v.xres and usim_kasme(got.ck, got.ik, HOME, v.autn[:6]) == v.kasme
        sqns.append(got.sqn)
    return sqns


def test_air_one_and_five_vectors(hss, mme):
    imsi, usim = hss.add()
    one = mme.air(imsi, 1)
    assert one.result_code == 2001 and one.auth_session_state == 1
    assert len(one.authentication_info.e_utran_vector) == 1
    five = mme.air(imsi, 5)
    vectors = five.authentication_info.e_utran_vector
    assert [v.item_number for v in vectors] == [1, 2, 3, 4, 5]
    assert len({v.rand for v in vectors}) == 5
    sqns = accept_all(usim, one) + accept_all(usim, five)
    assert sqns == sorted(sqns) and len(set(sqns)) == 6


def test_resync_then_vectors_accepted(hss, mme):
    imsi, usim = hss.add()
    usim.sqn_ms, usim.seq_ms[0] = 777 << 5, 777  # the card is ahead of this HSS
    first = mme.air(imsi).authentication_info.e_utran_vector[0]
    failure = usim.authenticate(first.rand, first.autn)
    assert isinstance(failure, SyncFailure)
    again = mme.air(imsi, 2, resync=first.rand + failure.auts)
    assert again.result_code == 2001
    sqns = accept_all(usim, again)
    assert split_sqn(sqns[0])[0] == 778
    bad = bytearray(failure.auts)
    bad[-1] ^= 0x80
    refused = mme.air(imsi, 1, resync=first.rand + bytes(bad))
    assert experimental_code(refused) == 4181  # DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE


def test_unknown_imsi_and_roaming(hss, mme):
    imsi, _ = hss.add()
    assert experimental_code(mme.air("001010000099999")) == 5001  # DIAMETER_ERROR_USER_UNKNOWN
    assert experimental_code(mme.ulr("001010000099999")) == 5001
    assert experimental_code(mme.air(imsi, plmn=ELSEWHERE)) == 5004  # DIAMETER_ERROR_ROAMING_NOT_ALLOWED
    assert experimental_code(mme.ulr(imsi, plmn=ELSEWHERE)) == 5004


def test_ulr_gives_subscription_data_and_pur_purges(hss, mme):
    imsi, _ = hss.add(apns=("internet", "ims"))
    ula = mme.ulr(imsi)
    assert ula.result_code == 2001 and ula.ula_flags == 1
    sd = ula.subscription_data
    assert sd.subscriber_status == 0 and sd.network_access_mode == 2
    profile = sd.apn_configuration_profile
    assert profile.context_identifier == 1
    assert [c.service_selection for c in profile.apn_configuration] == ["internet", "ims"]
    assert profile.apn_configuration[0].eps_subscribed_qos_profile.qos_class_identifier == 9
    assert sd.ambr.max_requested_bandwidth_dl > 0
    skipped = mme.ulr(imsi, flags=0b000110)  # Skip-Subscriber-Data: the MME has it already
    assert skipped.result_code == 2001 and getattr(skipped, "subscription_data", None) is None
    pua = mme.pur(imsi)
    assert pua.result_code == 2001 and pua.pua_flags == 1  # Freeze M-TMSI: the purging MME was registered
    assert experimental_code(mme.pur("001010000099999")) == 5001


def test_killed_daemon_never_repeats_a_sqn(hss):
    imsi, usim = hss.add()
    mme = Mme(hss.port)
    try:
        issued = accept_all(usim, mme.air(imsi, 3))
    finally:
        mme.stop()
    hss.restart()  # SIGKILL between two AIRs
    mme = Mme(hss.port)
    try:
        after = accept_all(usim, mme.air(imsi, 1))  # the USIM accepts only fresh SQNs
    finally:
        mme.stop()
    assert min(after) > max(issued)
