"""The daemon as PCRF over TCP, python-diameter as the PCEF (TS 29.212): an open5gs-shaped CCR-I answered with
every part of the plan's policy (and decoded by tshark without a malformed field), CCR-T, unknown subscriber
and session, a retransmitted CCR-I answered from the first answer."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import redis
from click.testing import CliRunner

from ocs.cli import cli
from ocs.diameter.typed import Group
from ocs.policy.plans import Arp, ChargingRule, Plan
from ocs.services.charging import ChargingService
from ocs.services.plans import create_plan
from ocs.store.redis_client import RedisStore
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.gx_pcef import INITIAL, TERMINATION, UPDATE, Pcef, read
from tests.support.gy_pgw import Pgw, data_tariff, mscc, provision, run
from tests.support.tshark import decode, needs_tshark

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

VOIP = ChargingRule("voip", ("permit out 17 from 10.45.0.1 5060 to any", "permit in 17 from any to 10.45.0.1 5060"),
                    qci=1, arp=Arp(2, "enabled", "disabled"), mbr_ul=128_000, mbr_dl=128_000, gbr_ul=64_000,
                    gbr_dl=64_000, precedence=10, rating_group=20, online=True)
BASIC = Plan("basic", "Basic", 10_000_000, 50_000_000, 9, Arp(8), (VOIP,), 64_000, 128_000)
GOLD = Plan("gold", "Gold", 20_000_000, 100_000_000, 8, Arp(5, "disabled", "enabled"))
CAPPED = Plan("capped", "Capped", 10_000_000, 50_000_000, 9, Arp(8), (), 64_000, 128_000, 1_000_000, "month")


@dataclass
class Pcrf:
    daemon: DaemonProcess
    port: int
    dsn: str
    prefix: str

    config: Path

    def subscriber(self, plan: str | None = None) -> tuple[str, str]:
        imsi, msisdn, _ = self.sim(plan)
        return imsi, msisdn

    def sim(self, plan: str | None = None) -> tuple[str, str, str]:
        imsi, msisdn, account = run(provision(REDIS_URL, self.prefix, self.dsn, balance=0))
        if plan is not None:
            run(_execute(self.dsn, "UPDATE subscribers SET plan_code = $1 WHERE imsi = $2", plan, imsi))
        return imsi, msisdn, account


async def _execute(dsn: str, query: str, *args: object) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(query, *args)
    finally:
        await conn.close()


async def _plans(dsn: str) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=1)
    try:
        for p in (BASIC, GOLD, CAPPED):
            await create_plan(pool, p)
    finally:
        await pool.close()


@pytest.fixture(scope="module")
def pcrf(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pcrf]:
    tmp_path = tmp_path_factory.mktemp("gx")
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=["smf.test", "pgw.test"], diameter_port=port,
                          admin_port=free_port(),
                          applications=("gx", "gy"), extra=backends_config(REDIS_URL, prefix, dsn) + """
[charging]
currency = "EUR"

[gy]
default_rating_group = 10
grant_octets = 100000

[gx]
default_plan = "gold"
""")
    p = Pcrf(DaemonProcess(config, module="ocsd"), port, dsn, prefix, config)
    try:
        asyncio.run(_plans(dsn))
        run(provision(REDIS_URL, prefix, dsn, balance=0, tariffs=[data_tariff(10)]))  # read at start
        p.daemon.start()
        yield p
    finally:
        p.daemon.kill()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


@pytest.fixture(scope="module")
def pcef(pcrf: Pcrf) -> Iterator[Pcef]:
    p = Pcef(pcrf.port)
    try:
        yield p
    finally:
        p.stop()


def session_hash(pcrf: Pcrf, session: str) -> dict[bytes, bytes]:
    return redis.Redis.from_url(REDIS_URL).hgetall(f"{pcrf.prefix}:gxs:{{{session}}}")


def test_ccr_i_carries_the_plan_then_ccr_t_frees_the_session(pcrf, pcef):
    imsi, msisdn = pcrf.subscriber("basic")
    s = pcef.session()
    answer = pcef.send(pcef.ccr(s, INITIAL, 0, imsi=imsi, msisdn=msisdn))
    cca = read(answer)
    assert (cca["Result-Code"], cca["CC-Request-Type"], cca["CC-Request-Number"]) == (2001, INITIAL, 0)
    assert cca["Auth-Application-Id"] == 16777238
    sf = cca["Supported-Features"]
    assert (sf["Vendor-Id"], sf["Feature-List-ID"], sf["Feature-List"]) == (10415, 1, 0x0B)
    qos = cca["QoS-Information"]
    assert (qos["APN-Aggregate-Max-Bitrate-UL"], qos["APN-Aggregate-Max-Bitrate-DL"]) == (10_000_000, 50_000_000)
    bearer = cca["Default-EPS-Bearer-QoS"]
    arp = bearer["Allocation-Retention-Priority"]
    assert bearer["QoS-Class-Identifier"] == 9
    assert (arp["Priority-Level"], arp["Pre-emption-Capability"], arp["Pre-emption-Vulnerability"]) == (8, 1, 0)
    assert sorted(cca.all("Event-Trigger")) == [15, 16]
    assert (cca["Online"], cca["Offline"]) == (1, 0)
    (definition,) = cca["Charging-Rule-Install"].all("Charging-Rule-Definition")
    assert definition["Charging-Rule-Name"] == b"voip"
    assert [f["Flow-Description"] for f in definition.all("Flow-Information")] == list(VOIP.flows)
    assert (definition["Flow-Status"], definition["Precedence"], definition["Rating-Group"]) == (2, 10, 20)
    assert (definition["Online"], definition["Offline"]) == (1, 0)
    rq = definition["QoS-Information"]
    assert (rq["QoS-Class-Identifier"], rq["Max-Requested-Bandwidth-UL"], rq["Guaranteed-Bitrate-DL"]) == (
        1, 128_000, 64_000)
    assert rq["Allocation-Retention-Priority"]["Priority-Level"] == 2
    stored = session_hash(pcrf, s)
    assert (stored[b"imsi"], stored[b"apn"], stored[b"ip"], stored[b"peer"]) == (
        imsi.encode(), b"internet", b"10.45.0.7", b"smf.test")

    # the plan changes, then the CCR-I is retransmitted: it gets the first answer (the plan it was given)
    run(_execute(pcrf.dsn, "UPDATE subscribers SET plan_code = 'gold' WHERE imsi = $1", imsi))
    again = read(pcef.send(pcef.ccr(s, INITIAL, 0, imsi=imsi, msisdn=msisdn)))
    assert again["QoS-Information"]["APN-Aggregate-Max-Bitrate-DL"] == BASIC.ambr_dl
    assert again["Charging-Rule-Install"]["Charging-Rule-Definition"]["Charging-Rule-Name"] == b"voip"

    end = read(pcef.send(pcef.ccr(s, TERMINATION, 1)))
    assert (end["Result-Code"], end["CC-Request-Type"], end["CC-Request-Number"]) == (2001, TERMINATION, 1)
    assert read(pcef.send(pcef.ccr(s, TERMINATION, 1)))["Result-Code"] == 2001  # retransmitted CCR-T
    assert read(pcef.send(pcef.ccr(s, UPDATE, 2)))["Result-Code"] == 5002  # the session ended
    members = redis.Redis.from_url(REDIS_URL).smembers(f"{pcrf.prefix}:gxi:{{{imsi}}}")
    assert s.encode() not in members


def test_default_plan_and_msisdn_only(pcrf, pcef):
    _, msisdn = pcrf.subscriber()
    s = pcef.session()
    cca = read(pcef.send(pcef.ccr(s, INITIAL, 0, msisdn=msisdn)))
    assert cca["Result-Code"] == 2001
    assert cca["QoS-Information"]["APN-Aggregate-Max-Bitrate-DL"] == GOLD.ambr_dl  # [gx] default_plan
    assert cca["Default-EPS-Bearer-QoS"]["QoS-Class-Identifier"] == 8
    assert "Charging-Rule-Install" not in cca  # the plan has no rules
    assert read(pcef.send(pcef.ccr(s, UPDATE, 1)))["Result-Code"] == 2001
    assert read(pcef.send(pcef.ccr(s, TERMINATION, 2)))["Result-Code"] == 2001


def test_unknown_subscriber_and_session(pcrf, pcef):
    cca = read(pcef.send(pcef.ccr(pcef.session(), INITIAL, 0, imsi="001019999999999")))
    assert (cca["Result-Code"], cca["CC-Request-Type"], cca["CC-Request-Number"]) == (5030, INITIAL, 0)
    cca = read(pcef.send(pcef.ccr(pcef.session(), TERMINATION, 3)))
    assert (cca["Result-Code"], cca["CC-Request-Type"], cca["CC-Request-Number"]) == (5002, TERMINATION, 3)


@pytest.fixture(scope="module")
def pgw(pcrf: Pcrf) -> Iterator[Pgw]:
    p = Pgw(pcrf.port)
    try:
        yield p
    finally:
        p.stop()


def next_rar(pcef: Pcef, seen: int, timeout: float = 10.0) -> Group:
    """The RAR after the first `seen` ones, as ocsd's dictionary reads it."""
    deadline = time.monotonic() + timeout
    while len(pcef.received) <= seen:
        assert time.monotonic() < deadline, "no RAR arrived"
        time.sleep(0.05)
    return read(pcef.received[seen])


def rar_records(pcrf: Pcrf) -> list[dict[bytes, bytes]]:
    return [fields for _, fields in redis.Redis.from_url(REDIS_URL).xrange(f"{pcrf.prefix}:gxrar")]


def test_exhaustion_throttles_top_up_restores_plan_change_pushed(pcrf, pcef, pgw):
    imsi, msisdn, account = pcrf.sim("basic")
    s = pcef.session()
    cca = read(pcef.send(pcef.ccr(s, INITIAL, 0, imsi=imsi, msisdn=msisdn)))
    assert [d["Charging-Rule-Name"] for d in cca["Charging-Rule-Install"].all("Charging-Rule-Definition")] == [
        b"voip"]
    seen = len(pcef.received)

    # the account has no money: Gy refuses the data (4012), and the Gx session gets the throttle rule by RAR
    gy = pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc()]))
    assert gy.result_code == 4012
    rar = next_rar(pcef, seen)
    assert rar["Session-Id"] == s and rar["Auth-Application-Id"] == 16777238
    (rule,) = rar["Charging-Rule-Install"].all("Charging-Rule-Definition")
    assert rule["Charging-Rule-Name"] == b"ocsd-throttle"
    qos = rule["QoS-Information"]
    assert (qos["Max-Requested-Bandwidth-UL"], qos["Max-Requested-Bandwidth-DL"]) == (64_000, 128_000)
    assert "Charging-Rule-Remove" not in rar
    deadline = time.monotonic() + 5
    while session_hash(pcrf, s).get(b"throttled") != b"1":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    listed = CliRunner().invoke(cli, ["session", "list", "-c", str(pcrf.config), "--app", "gx", "--imsi", imsi,
                                      "--json"])
    assert listed.exit_code == 0, listed.output
    (row,) = json.loads(listed.output)
    assert (row["session"], row["imsi"], row["account"], row["apn"], row["ip"], row["peer"]) == (
        s, imsi, account, "internet", "10.45.0.7", "smf.test")
    assert (row["plan"], row["rules"], row["throttled"]) == ("basic", ["voip", "ocsd-throttle"], True)
    everything = CliRunner().invoke(cli, ["session", "list", "-c", str(pcrf.config), "--app", "gx"])
    assert s in everything.output and "ocsd-throttle" in everything.output
    # a new session of the throttled account starts throttled
    s2 = pcef.session()
    cca = read(pcef.send(pcef.ccr(s2, INITIAL, 0, imsi=imsi, msisdn=msisdn)))
    assert cca["QoS-Information"]["APN-Aggregate-Max-Bitrate-DL"] == 128_000
    names = [d["Charging-Rule-Name"] for d in cca["Charging-Rule-Install"].all("Charging-Rule-Definition")]
    assert names == [b"voip", b"ocsd-throttle"]
    assert read(pcef.send(pcef.ccr(s2, TERMINATION, 1)))["Result-Code"] == 2001

    # a top-up restores the plan: the throttle rule is removed
    seen = len(pcef.received)
    run(_top_up(pcrf, account))
    rar = next_rar(pcef, seen)
    assert rar["Session-Id"] == s
    assert rar["Charging-Rule-Remove"].all("Charging-Rule-Name") == [b"ocsd-throttle"]
    assert "Charging-Rule-Install" not in rar

    # a plan change by CLI is pushed: the old plan's rules removed, the new plan's (none) installed
    seen = len(pcef.received)
    result = CliRunner().invoke(cli, ["subscriber", "set", "-c", str(pcrf.config), imsi, "--plan", "gold"])
    assert result.exit_code == 0, result.output
    rar = next_rar(pcef, seen)
    assert rar["Charging-Rule-Remove"].all("Charging-Rule-Name") == [b"voip"]
    assert rar["QoS-Information"]["APN-Aggregate-Max-Bitrate-DL"] == GOLD.ambr_dl
    assert rar["Default-EPS-Bearer-QoS"]["QoS-Class-Identifier"] == GOLD.qci
    # the daemon records each RAA after the PCEF has answered it: wait for the third record
    deadline = time.monotonic() + 10
    while True:
        records = [r for r in rar_records(pcrf) if r[b"session"] == s.encode()]
        if len(records) >= 3 or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert [(r[b"reason"], r[b"result"]) for r in records] == [
        (b"throttle", b"2001"), (b"restore", b"2001"), (b"plan", b"2001")]
    assert read(pcef.send(pcef.ccr(s, TERMINATION, 1)))["Result-Code"] == 2001


async def _top_up(pcrf: Pcrf, account: str) -> None:
    store = RedisStore(REDIS_URL, pcrf.prefix)
    await store.start()
    pool = await asyncpg.create_pool(pcrf.dsn, min_size=1, max_size=1)
    try:
        service = ChargingService(store, pool)
        await service.load()
        await service.top_up(account, 1000, "gx-test")
    finally:
        await pool.close()
        await store.close()


@needs_tshark
def test_cca_and_rar_decode_in_tshark_without_a_malformed_field(pcrf, pcef, pgw, tmp_path):
    imsi, msisdn, _ = pcrf.sim("basic")
    s = pcef.session()
    cca = pcef.send(pcef.ccr(s, INITIAL, 0, imsi=imsi, msisdn=msisdn))
    seen = len(pcef.received)
    assert pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc()])).result_code == 4012
    next_rar(pcef, seen)
    verbose, problems = decode([cca.raw_octets, pcef.received[seen].raw_octets], tmp_path / "gx.pcap")
    assert problems == ""
    for part in ("Charging-Rule-Definition", "Flow-Description", "Default-EPS-Bearer-QoS",
                 "APN-Aggregate-Max-Bitrate-DL", "Supported-Features", "Command Code: Re-Auth (258)", "ocsd-throttle",
                 "Frame 2:"):
        assert part in verbose, part
    assert "Malformed" not in verbose
    assert pcef.send(pcef.ccr(s, TERMINATION, 1)).result_code == 2001


def test_usage_monitoring_crossing_its_threshold_throttles(pcrf, pcef):
    imsi, msisdn = pcrf.subscriber("capped")
    s = pcef.session()
    cca = read(pcef.send(pcef.ccr(s, INITIAL, 0, imsi=imsi, msisdn=msisdn)))
    umi = cca["Usage-Monitoring-Information"]
    assert (umi["Monitoring-Key"], umi["Granted-Service-Unit"]["CC-Total-Octets"]) == (b"month", 1_000_000)
    assert umi["Usage-Monitoring-Level"] == 0 and 33 in cca.all("Event-Trigger")  # USAGE_REPORT

    cca = read(pcef.send(pcef.ccr(s, UPDATE, 1, usage=("month", 600_000))))
    assert cca["Usage-Monitoring-Information"]["Granted-Service-Unit"]["CC-Total-Octets"] == 400_000
    again = read(pcef.send(pcef.ccr(s, UPDATE, 1, usage=("month", 600_000))))  # a retransmission: counted once
    assert again["Result-Code"] == 2001
    month = time.strftime("%Y%m", time.gmtime())
    counter = f"{pcrf.prefix}:gxuse:{{{imsi}}}:{month}"
    assert int(redis.Redis.from_url(REDIS_URL).get(counter)) == 600_000
    ignored = read(pcef.send(pcef.ccr(s, UPDATE, 2, usage=("other-key", 900_000))))
    assert "Charging-Rule-Install" not in ignored

    cca = read(pcef.send(pcef.ccr(s, UPDATE, 3, usage=("month", 500_000))))  # past the month's volume
    (rule,) = cca["Charging-Rule-Install"].all("Charging-Rule-Definition")
    assert rule["Charging-Rule-Name"] == b"ocsd-throttle"
    assert rule["QoS-Information"]["Max-Requested-Bandwidth-DL"] == 128_000
    assert "Usage-Monitoring-Information" not in cca
    assert session_hash(pcrf, s)[b"throttled"] == b"1"
    assert int(redis.Redis.from_url(REDIS_URL).get(counter)) == 1_100_000

    s2 = pcef.session()  # a new session in the same month starts throttled, with nothing left to monitor
    cca = read(pcef.send(pcef.ccr(s2, INITIAL, 0, imsi=imsi, msisdn=msisdn)))
    assert cca["QoS-Information"]["APN-Aggregate-Max-Bitrate-DL"] == 128_000
    assert "Usage-Monitoring-Information" not in cca
    for sid in (s, s2):
        assert read(pcef.send(pcef.ccr(sid, TERMINATION, 9)))["Result-Code"] == 2001
