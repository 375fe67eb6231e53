"""The daemon as OCS over TCP, python-diameter as the PGW (RFC 4006, TS 32.299 §6.3): CCR-I/U/T for data,
exhaustion (Final-Unit-Indication then 4012), open5gs-shaped CCRs, a retransmission charged once, unknown
subscriber and session, malformed CCRs, and a session continued by a second ocsd process."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import asyncpg
import pytest
import redis

from ocs.charging.model import Tariff, Unit
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config
from tests.support.gy_pgw import (
    EVENT,
    INITIAL,
    TERMINATION,
    UPDATE,
    Pgw,
    account_view,
    avp_value,
    by_rg,
    data_bundle,
    data_tariff,
    mscc,
    provision,
    run,
)
from tests.support.redis_cluster import CLUSTER_URLS, client, delete_prefix
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

GRANT = 100_000  # [gy] grant_octets
APP_BUNDLE = dataclasses.replace(data_bundle("app20", 150_000), rating_groups=(20,))  # serves RG_APP only
RG_DATA, RG_OTHER, RG_SMS, RG_APP, RG_FREE = 10, 11, 30, 20, 40


@dataclass
class Ocs:
    daemon: DaemonProcess
    port: int
    dsn: str
    prefix: str
    config: Path
    redis_url: str = REDIS_URL  # or a test Redis Cluster's seed (the `ocs` fixture's "cluster" parameter)

    def subscriber(self, balance: int, buy: tuple[str, ...] = ()) -> tuple[str, str, str]:
        return run(provision(self.redis_url, self.prefix, self.dsn, balance=balance, buy=buy))

    def bundles(self, account: str) -> list[tuple[str, int, int]]:
        view = run(account_view(self.redis_url, self.prefix, account))
        return [(b.code, b.remaining.data_octets, b.held.data_octets) for b in view.bundles]

    def balance(self, account: str) -> tuple[int, int]:
        view = run(account_view(self.redis_url, self.prefix, account))
        return view.balance, view.held


def gy_config(tmp_path: Path, name: str, port: int, dsn: str, prefix: str, redis_url: str = REDIS_URL) -> Path:
    return write_config(tmp_path / name, peers=["pgw.test", "pgw2.test"], diameter_port=port,
                        admin_port=free_port(), applications=("gy",),
                        extra=backends_config(redis_url, prefix, dsn, cluster=redis_url in CLUSTER_URLS) + f"""
[charging]
currency = "EUR"

[auc]
home_plmns = ["00101"]

[gy]
default_rating_group = {RG_DATA}
grant_octets = {GRANT}
validity_time = 600
quota_threshold_percent = 20
""")


@pytest.fixture(scope="module", params=["redis", "cluster"])
def ocs(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ocs]:
    """The daemon on the shared Redis, then on a 3-primary Redis Cluster (issue 19): every test of this module
    runs against both."""
    redis_url = request.getfixturevalue("redis_cluster").url if request.param == "cluster" else REDIS_URL
    tmp_path = tmp_path_factory.mktemp("gy")
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    port = free_port()
    config = gy_config(tmp_path, "ocsd.toml", port, dsn, prefix, redis_url)
    o = Ocs(DaemonProcess(config, module="ocsd"), port, dsn, prefix, config, redis_url)
    try:
        # tariffs exist before the daemon starts (it reads them at start)
        run(provision(redis_url, prefix, dsn, balance=0, tariffs=[data_tariff(RG_DATA), data_tariff(RG_OTHER, 2),
                                                                 Tariff(RG_SMS, Unit.EVENTS, 1, 5, 20, "EUR"),
                                                                 data_tariff(RG_APP), data_tariff(RG_FREE, 0)],
                      bundles=[APP_BUNDLE]))
        o.daemon.start()
        yield o
    finally:
        o.daemon.kill()
        asyncio.run(drop_database(name))
        delete_prefix(redis_url, prefix)


@pytest.fixture(scope="module")
def pgw(ocs: Ocs) -> Iterator[Pgw]:
    p = Pgw(ocs.port)
    try:
        yield p
    finally:
        p.stop()


def test_session_two_rating_groups_update_and_terminate(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)  # 1 cent per 1000 octets (RG 10), 2 cents (RG 11)
    s = pgw.session()
    cca = pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA), mscc(RG_OTHER)]))
    assert cca.result_code == 2001 and cca.cc_request_type == INITIAL and cca.cc_request_number == 0
    got = by_rg(cca)
    for rg in (RG_DATA, RG_OTHER):
        assert got[rg].result_code == 2001
        assert got[rg].granted_service_unit.cc_total_octets == GRANT
        assert got[rg].validity_time == 600
        assert got[rg].volume_quota_threshold == GRANT // 5
        assert got[rg].final_unit_indication is None
    assert ocs.balance(account) == (1000, 100 + 200)
    cca = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=GRANT, reason=3), mscc(RG_OTHER, used=10_000)]))
    assert cca.result_code == 2001
    assert ocs.balance(account) == (1000 - 100 - 20, 300)
    cca = pgw.send(pgw.ccr(s, TERMINATION, 2, mscc=[mscc(RG_DATA, requested=False, used=1_500)]))
    assert cca.result_code == 2001
    assert ocs.balance(account) == (1000 - 100 - 20 - 2, 0)  # RG 11's reservation released, nothing charged
    again = pgw.send(pgw.ccr(s, UPDATE, 3, mscc=[mscc(RG_DATA, used=1)]))
    assert again.result_code == 5002  # DIAMETER_UNKNOWN_SESSION_ID: the session ended


def test_retransmitted_update_is_charged_once(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)]))
    update = pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=50_000)])
    first = pgw.send(update)
    assert ocs.balance(account) == (950, 100)
    second = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=50_000)]))  # same Session-Id and number
    assert second.result_code == first.result_code == 2001
    assert (by_rg(second)[RG_DATA].granted_service_unit.cc_total_octets
            == by_rg(first)[RG_DATA].granted_service_unit.cc_total_octets)
    assert ocs.balance(account) == (950, 100)


def test_exhaustion_gives_final_unit_then_4012(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=150)
    s = pgw.session()
    cca = pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)]))
    assert by_rg(cca)[RG_DATA].granted_service_unit.cc_total_octets == GRANT
    assert by_rg(cca)[RG_DATA].final_unit_indication is None
    cca = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=GRANT)]))
    last = by_rg(cca)[RG_DATA]
    assert last.granted_service_unit.cc_total_octets == 50_000  # what 50 cents buy
    assert last.final_unit_indication.final_unit_action == 0  # TERMINATE
    cca = pgw.send(pgw.ccr(s, UPDATE, 2, mscc=[mscc(RG_DATA, used=50_000)]))
    assert cca.result_code == 2001 and by_rg(cca)[RG_DATA].result_code == 4012
    assert by_rg(cca)[RG_DATA].granted_service_unit is None
    assert ocs.balance(account) == (0, 0)


def test_open5gs_shaped_ccr_default_rating_group_and_imsi_wins(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    # one MSCC without Rating-Group, both Subscription-Ids (the E164 one unknown), Requested-Action on a session
    ccr = pgw.ccr(s, INITIAL, 0, imsi=imsi, msisdn="4900000000001", mscc=[mscc(None)], plmn="00101",
                  requested_action=0)
    cca = pgw.send(ccr)
    assert cca.result_code == 2001
    assert by_rg(cca)[RG_DATA].granted_service_unit.cc_total_octets == GRANT
    assert ocs.balance(account) == (1000, 100)
    roaming = pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc(None)], plmn="26202"))
    assert roaming.result_code == 2001
    assert ocs.balance(account) == (1000, 100 + 500)  # the roaming price is 5 times the home price


def test_unknown_subscriber_and_malformed_requests_charge_nothing(ocs, pgw):
    imsi, msisdn, account = ocs.subscriber(balance=1000)
    unknown = pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi="001019999999999", mscc=[mscc(RG_DATA)]))
    assert unknown.result_code == 5030  # DIAMETER_USER_UNKNOWN
    by_msisdn = pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, msisdn=msisdn, mscc=[mscc(RG_DATA)]))
    assert by_msisdn.result_code == 2001
    no_type = pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)])
    no_type.cc_request_type = None
    assert pgw.send(no_type).result_code == 5005  # DIAMETER_MISSING_AVP
    bad_id = pgw.ccr(pgw.session(), INITIAL, 0, mscc=[mscc(RG_DATA)])
    bad_id.add_subscription_id(subscription_id_type=1, subscription_id_data="not-an-imsi")
    answer = pgw.send(bad_id)
    assert answer.result_code == 5004 and answer.cc_request_type == INITIAL  # DIAMETER_INVALID_AVP_VALUE
    assert ocs.balance(account) == (1000, 100)  # only the MSISDN session holds anything


def test_session_continued_by_a_second_process(ocs, pgw, tmp_path):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    assert pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)])).result_code == 2001
    port = free_port()
    other = DaemonProcess(gy_config(tmp_path, "other.toml", port, ocs.dsn, ocs.prefix, ocs.redis_url), module="ocsd")
    other.start()
    second = Pgw(port)
    try:
        cca = second.send(second.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=GRANT)]))
        assert cca.result_code == 2001 and by_rg(cca)[RG_DATA].granted_service_unit.cc_total_octets == GRANT
        assert second.send(second.ccr(s, TERMINATION, 2, mscc=[mscc(RG_DATA, requested=False, used=0)])
                           ).result_code == 2001
    finally:
        second.stop()
        other.kill()
    assert ocs.balance(account) == (900, 0)


def ocsd_cli(config: Path, *args: str) -> Any:
    done = subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args, "-c", str(config),
                           "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def wait_for(check: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := check()) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


def test_session_list_and_one_cdr_per_session(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA), mscc(RG_OTHER)]))
    listed = ocsd_cli(ocs.config, "session", "list", "--imsi", imsi)
    assert [(x["session"], x["account"], x["peer"], x["reserved"]) for x in listed] == [
        (s, account, "pgw.test", {str(RG_DATA): GRANT, str(RG_OTHER): GRANT})]
    assert s in [x["session"] for x in ocsd_cli(ocs.config, "session", "list")]  # every account's sessions
    pgw.send(pgw.ccr(s, TERMINATION, 1, mscc=[mscc(RG_DATA, requested=False, used=3000)]))
    pgw.send(pgw.ccr(s, TERMINATION, 1, mscc=[mscc(RG_DATA, requested=False, used=3000)]))  # retransmitted
    assert ocsd_cli(ocs.config, "session", "list", "--account", account) == []
    records = wait_for(lambda: ocsd_cli(ocs.config, "cdr", "show", "--session", s))
    assert len(records) == 1
    r = records[0]
    assert (r["account"], r["imsi"], r["peer"], r["cause"]) == (account, imsi, "pgw.test", "final")
    assert r["usage"] == [{"rg": RG_DATA, "used": 3000, "charged": 3, "from_bundles": 0},
                          {"rg": RG_OTHER, "used": 0, "charged": 0, "from_bundles": 0}]


def test_postgres_stopped_during_ccrs(tmp_path):
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    url = urlsplit(dsn)
    proxy = TcpProxy(url.hostname or "127.0.0.1", url.port or 5432)
    proxy.start()
    proxied = dsn.replace(f"{url.hostname}:{url.port}", f"127.0.0.1:{proxy.port}")
    port = free_port()
    daemon = DaemonProcess(gy_config(tmp_path, "ocsd.toml", port, proxied, prefix), module="ocsd")
    pgw = None
    try:
        imsi, _, account = run(provision(REDIS_URL, prefix, dsn, balance=1000, tariffs=[data_tariff(RG_DATA)]))
        daemon.start()
        pgw = Pgw(port)
        proxy.cut()  # PostgreSQL unreachable from the daemon
        s = pgw.session()
        assert pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)])).result_code == 2001
        assert pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=GRANT)])).result_code == 2001
        assert pgw.send(pgw.ccr(s, TERMINATION, 2, mscc=[mscc(RG_DATA, requested=False, used=1000)])
                        ).result_code == 2001
        view = run(account_view(REDIS_URL, prefix, account))
        assert (view.balance, view.held) == (1000 - 100 - 1, 0)

        async def written() -> tuple[int, int]:
            conn = await asyncpg.connect(dsn)
            try:
                usage = await conn.fetchval("SELECT count(*) FROM ledger WHERE account_id = $1 AND kind = 'usage'",
                                            account)
                return usage, await conn.fetchval("SELECT count(*) FROM gy_cdrs WHERE record_id = $1", s)
            finally:
                await conn.close()

        time.sleep(1)
        assert run(written()) == (0, 0)  # waiting in Redis
        proxy.restore()
        assert wait_for(lambda: run(written()) == (2, 1), timeout=40)
    finally:
        if pgw is not None:
            pgw.stop()
        daemon.kill()
        proxy.stop()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


SMS = "32274@3gpp.org"
COST = ((423, 0), (445, 0), (447, 0))  # Cost-Information / Unit-Value / Value-Digits
CURRENCY = ((423, 0), (425, 0))


def test_event_sms_debit_refund_check_and_price(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=12)  # an SMS costs 5 cents
    s = pgw.session()
    debit = pgw.ccr(s, EVENT, 0, imsi=imsi, mscc=[mscc(RG_SMS, events=1)], requested_action=0, context=SMS)
    cca = pgw.send(Pgw.aoc(debit))
    assert cca.result_code == 2001 and cca.cc_request_type == EVENT
    assert by_rg(cca)[RG_SMS].granted_service_unit.cc_service_specific_units == 1
    assert avp_value(cca, *COST) == 5 and avp_value(cca, *CURRENCY) == 978  # EUR
    again = pgw.ccr(s, EVENT, 0, imsi=imsi, mscc=[mscc(RG_SMS, events=1)], requested_action=0, context=SMS)
    assert pgw.send(again).result_code == 2001  # a retransmission: answered, not charged
    assert ocs.balance(account) == (7, 0)
    check = pgw.send(pgw.ccr(pgw.session(), EVENT, 0, imsi=imsi, mscc=[mscc(RG_SMS, events=2)],
                             requested_action=2, context=SMS))
    assert avp_value(check, (422, 0)) == 1  # NO_CREDIT: 2 SMS cost 10
    check = pgw.send(pgw.ccr(pgw.session(), EVENT, 0, imsi=imsi, mscc=[mscc(RG_SMS, events=1)],
                             requested_action=2, context=SMS))
    assert avp_value(check, (422, 0)) == 0  # ENOUGH_CREDIT
    refused = pgw.send(pgw.ccr(pgw.session(), EVENT, 0, imsi=imsi, mscc=[mscc(RG_SMS, events=2)],
                               requested_action=0, context=SMS))
    assert refused.result_code == 4012  # DIAMETER_CREDIT_LIMIT_REACHED, nothing taken
    assert ocs.balance(account) == (7, 0)
    r = pgw.session()
    for n in (0, 1):  # the second refund of the same Session-Id credits nothing
        refund = pgw.send(pgw.ccr(r, EVENT, n, imsi=imsi, mscc=[mscc(RG_SMS, events=1)], requested_action=1,
                                  context=SMS))
        assert refund.result_code == 2001
    assert ocs.balance(account) == (12, 0)
    price = pgw.send(pgw.ccr(pgw.session(), EVENT, 0, mscc=[mscc(RG_SMS, events=3)], requested_action=3,
                             context=SMS))
    assert price.result_code == 2001 and avp_value(price, *COST) == 15
    assert ocs.balance(account) == (12, 0)
    # the two records are written behind, independently: wait for both
    def both() -> Any:
        found = ocsd_cli(ocs.config, "cdr", "show", "--account", account)
        return found if len(found) >= 2 else None

    records = wait_for(both)
    assert sorted(c["cause"] for c in records) == ["event", "refund"]


def test_app_bundle_serves_its_rating_group_and_zero_rated_is_never_charged(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000, buy=("app20",))
    s = pgw.session()
    cca = pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_APP), mscc(RG_DATA), mscc(RG_FREE)]))
    assert all(by_rg(cca)[rg].granted_service_unit.cc_total_octets == GRANT for rg in (RG_APP, RG_DATA, RG_FREE))
    assert ocs.balance(account) == (1000, 100)  # only RG 10 holds money: RG 20 from its bundle, RG 40 is free
    assert ocs.bundles(account) == [("app20", 150_000, GRANT)]
    cca = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_APP, used=GRANT), mscc(RG_DATA, used=GRANT),
                                               mscc(RG_FREE, used=5 * GRANT)]))
    assert cca.result_code == 2001
    # RG 20's next grant: the 50 000 left in its bundle, then 50 000 at the tariff (50 cents)
    assert ocs.bundles(account) == [("app20", 50_000, 50_000)]
    assert ocs.balance(account) == (900, 100 + 50)
    pgw.send(pgw.ccr(s, TERMINATION, 2, mscc=[mscc(RG_FREE, requested=False, used=GRANT)]))
    assert ocs.balance(account) == (900, 0)
    records = wait_for(lambda: ocsd_cli(ocs.config, "cdr", "show", "--session", s))
    usage = {u["rg"]: (u["used"], u["charged"], u["from_bundles"]) for u in records[0]["usage"]}
    assert usage == {RG_APP: (GRANT, 0, GRANT), RG_DATA: (GRANT, 100, 0), RG_FREE: (6 * GRANT, 0, 0)}


def test_rar_after_a_top_up_answered_by_the_pgw(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=150)
    s, quiet = pgw.session(), pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)]))
    pgw.send(pgw.ccr(quiet, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA, requested_units=10_000)]))  # not final
    last = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG_DATA, used=GRANT)]))
    assert by_rg(last)[RG_DATA].final_unit_indication is not None
    seen = len(ocs.daemon.lines)
    before = len(pgw.received)
    ocsd_cli(ocs.config, "account", "topup", "--account", account, "--amount", "500", "--ref", "t1")  # a CLI process
    line = ocs.daemon.wait_for("rar-answered", after=seen)
    assert (line["session"], line["peer"], line["result"]) == (s, "pgw.test", 2001)
    rars = [m for m in wait_for(lambda: pgw.received[before:]) if m.header.command_code == 258]
    assert [(m.session_id, m.re_auth_request_type, m.auth_application_id) for m in rars] == [(s, 0, 4)]
    assert quiet not in [m.session_id for m in pgw.received]  # its grant was not the last: no RAR


def test_asr_from_the_cli(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)]))
    before = len(pgw.received)
    answer = ocsd_cli(ocs.config, "session", "terminate", s)
    assert answer == {"ok": True, "session": s, "peer": "pgw.test", "result": 2001, "state": "terminating"}
    asrs = [m for m in pgw.received[before:] if m.header.command_code == 274]
    assert [(m.session_id, m.auth_application_id) for m in asrs] == [(s, 4)]
    # the PGW then ends the session with its final report (RFC 4006 §5.5)
    assert pgw.send(pgw.ccr(s, TERMINATION, 1, mscc=[mscc(RG_DATA, requested=False, used=10)])).result_code == 2001
    gone = subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", "session", "terminate", s,
                           "-c", str(ocs.config), "--timeout", "2"], cwd=ROOT, capture_output=True, text=True,
                          timeout=60)
    assert gone.returncode == 2 and "no live session" in gone.stderr


def test_blocked_account_is_refused_4010(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    client(ocs.redis_url).hset(f"{ocs.prefix}:{{{account}}}:acct", "blocked", "1")
    cca = pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)]))
    assert cca.result_code == 4010  # DIAMETER_END_USER_SERVICE_DENIED
    assert ocs.balance(account) == (1000, 0)


def test_fifty_concurrent_sessions_of_one_account(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1234)  # 12 grants of 100 cents and one of 34
    sessions = [pgw.session() for _ in range(50)]
    with ThreadPoolExecutor(50) as pool:
        first = list(pool.map(lambda s: pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)])), sessions))
    granted = [by_rg(c)[RG_DATA].granted_service_unit for c in first]
    amounts = [g.cc_total_octets for g in granted if g is not None]
    assert sorted(amounts) == [34_000] + [GRANT] * 12
    assert ocs.balance(account) == (1234, 1234)
    with ThreadPoolExecutor(50) as pool:  # every session reports twice its grant
        list(pool.map(lambda sg: pgw.send(pgw.ccr(sg[0], TERMINATION, 1, mscc=[mscc(
            RG_DATA, requested=False, used=2 * (sg[1].cc_total_octets if sg[1] is not None else 0))])),
            zip(sessions, granted, strict=True)))
    assert ocs.balance(account) == (0, 0)  # all it held, never below zero
