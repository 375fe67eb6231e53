"""The Diameter trace (issue 13 point 2) on the real daemon, `ocsd run --trace` at debug level: an AIR from the
MME gives a `diameter-request` line (in) and a `diameter-answer` line (out) naming the peer, application,
command, Session-Id, subscriber, result code and latency, with every AVP decoded and the vector's secrets
redacted; without --trace (level info, trace off) neither line is written."""

from __future__ import annotations

import asyncio
import json
import re
import secrets
from pathlib import Path

import pytest

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.raw_s6a import Mme, provision

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def flatten(tree: list[object]) -> list[tuple[str, object]]:
    out: list[tuple[str, object]] = []
    for name, value in tree:  # type: ignore[misc]
        out.append((name, value))
        if isinstance(value, list):
            out.extend(flatten(value))
    return out


@pytest.mark.parametrize("trace", [True, False])
def test_trace_shows_the_request_and_its_answer_with_secrets_redacted(tmp_path: Path, trace: bool):
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=port, admin_port=free_port(),
                          applications=("s6a",),
                          extra=backends_config(REDIS_URL, "ocst" + secrets.token_hex(3), dsn)
                          + '\n[auc]\nhome_plmns = ["00101"]\n')
    if trace:
        config.write_text(config.read_text().replace('level = "info"', 'level = "debug"'))
    daemon = DaemonProcess(config, module="ocsd", args=("--trace",) if trace else ())
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(provision(dsn, imsi))
        daemon.start()

        async def one_air() -> None:
            mme = await Mme.connect(port)
            assert {code for _, code, _ in (await mme.burst(imsi, 1)).values()} == {2001}
            mme.writer.close()

        asyncio.run(one_air())
        if not trace:
            daemon.stop()
            assert not [x for x in daemon.lines if str(x.get("event")).startswith("diameter-")]
            return
        request = daemon.wait_for("diameter-request", 10)
        answer = daemon.wait_for("diameter-answer", 10)
    finally:
        daemon.kill()
        asyncio.run(drop_database(name))
    assert request["direction"] == "in" and answer["direction"] == "out"
    assert request["peer"] == answer["peer"] == "mme.test"
    assert request["application"] == answer["application"] == "s6a"
    assert request["command"] == answer["command"] == "Authentication-Information"
    assert request["subscriber"] == answer["subscriber"] == imsi
    assert request["session_id"] and answer["session_id"] == request["session_id"]
    assert answer["result_code"] == 2001 and answer["vendor"] == 0
    assert isinstance(answer["seconds"], float) and 0 < answer["seconds"] < 10
    assert "result_code" not in request
    avps = dict(flatten(answer["avps"]))  # type: ignore[arg-type]
    assert avps["Result-Code"] == 2001 and avps["Origin-Host"] == "ocsd.test"
    tree = flatten(answer["avps"])  # type: ignore[arg-type]
    secret_values = [v for n, v in tree if n in ("RAND", "XRES", "AUTN", "KASME")]
    assert len(secret_values) >= 4 and set(secret_values) == {"***"}
    assert not re.search(r"[0-9a-f]{64}", json.dumps(answer))  # no 32-octet value (KASME) in the clear
    assert dict(flatten(request["avps"]))["User-Name"] == imsi  # type: ignore[arg-type]
