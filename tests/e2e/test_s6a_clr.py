"""A request of ours through the dispatch context (issue 12 point 3): when a UE registers at a new MME, the
daemon sends a Cancel-Location-Request to the previous MME over that MME's connection and awaits its answer
(TS 29.272 §5.2.1.1.3, §5.2.1.2)."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.raw_s6a import D, Mme, provision

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def hss(tmp_path: Path) -> Iterator[tuple[DaemonProcess, int, str]]:
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=["mme1.test", "mme2.test"], diameter_port=port,
                          admin_port=free_port(), applications=("s6a",),
                          extra=backends_config(REDIS_URL, prefix, dsn) + '\n[auc]\nhome_plmns = ["00101"]\n')
    daemon = DaemonProcess(config, module="ocsd")
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(provision(dsn, imsi))
        daemon.start()
        yield daemon, port, imsi
    finally:
        daemon.kill()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


def test_a_new_mme_makes_the_daemon_cancel_the_location_at_the_old_one(hss):
    daemon, port, imsi = hss

    async def scenario() -> None:
        old = await Mme.connect(port, "mme1.test")
        new = await Mme.connect(port, "mme2.test")
        ok = await old.burst(imsi, 0, ulrs=1)
        assert [code for _, code, _ in ok.values()] == [2001]
        ok = await new.burst(imsi, 0, ulrs=1)
        assert [code for _, code, _ in ok.values()] == [2001]
        clr = await asyncio.wait_for(old.read(), 10)
        assert clr.is_request and (clr.command_code, clr.application_id) == (317, 16777251)
        r = D.read(clr)
        assert (r["User-Name"], r["Cancellation-Type"], r["Destination-Host"]) == (imsi, 0, "mme1.test")
        assert r["Origin-Host"] == "ocsd.test" and r["Auth-Session-State"] == 1
        old.writer.write(D.answer(clr, {"Session-Id": r.avp("Session-Id"), "Result-Code": 2001,
                                        "Auth-Session-State": 1, "Origin-Host": "mme1.test",
                                        "Origin-Realm": "test"}).encode())
        await old.writer.drain()
        answered = await asyncio.to_thread(daemon.wait_for, "clr-answered", 10)
        assert answered["peer"] == "mme1.test" and answered["result"] == 2001
        old.writer.close()
        new.writer.close()

    asyncio.run(scenario())
