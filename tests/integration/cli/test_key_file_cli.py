"""Issue 14 point 6: the CLI refuses a key file that group or others may read (as ssh does), naming the file
and the fix; once the file is private it is used, and what it seals names its key."""

from __future__ import annotations

import asyncio

import asyncpg

from ocs.sealing import Sealer, sealed_by
from tests.integration.cli.test_subscriber_cli import OPC, K, msisdn_of, new_imsi


def test_a_group_readable_key_file_is_refused_until_chmod_600(ocsd, cli_env, tmp_path):
    keys = tmp_path / "keys.bin"
    assert ocsd("keys", "generate", str(keys), config=False).code == 0
    keys.chmod(0o640)
    cli_env.config.write_text(cli_env.config.read_text().replace("demo = true", f'file = "{keys}"'))
    imsi = new_imsi()
    refused = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC)
    assert refused.code == 2
    assert refused.err.startswith(f"error: the key file {keys} is accessible by group or others (mode 0640)")
    assert f"chmod 600 {keys}" in refused.err

    keys.chmod(0o600)
    added = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC)
    assert added.code == 0, added.err

    async def stored() -> bytes:
        conn = await asyncpg.connect(cli_env.dsn)
        try:
            return bytes(await conn.fetchval("SELECT k_enc FROM subscribers WHERE imsi = $1", imsi))
        finally:
            await conn.close()
    assert sealed_by(asyncio.run(stored())) == Sealer.from_file(keys).key_id
