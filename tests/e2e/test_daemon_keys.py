"""Issue 14 point 6: `ocsd run` refuses a key file that group or others may read (exit 2, the file and the
fix in the log line); the demo mode (no key file) keeps working (every other e2e test runs in it)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocs.sealing import generate_key_file
from tests.e2e.test_daemon_charging import config_text, env, run_ocsd  # noqa: F401 (env is a fixture)
from tests.support.daemon_process import free_port, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_a_world_readable_key_file_stops_the_daemon(tmp_path: Path, env) -> None:  # noqa: F811
    _, dsn, prefix = env
    keys = tmp_path / "keys.bin"
    generate_key_file(keys)
    keys.chmod(0o644)
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(),
                          admin_port=free_port(), applications=("s6a",),
                          extra=config_text(dsn, prefix, keys=f'file = "{keys}"'))
    done = run_ocsd(config)
    assert done.returncode == 2
    assert "start-failed" in done.stderr and f"chmod 600 {keys}" in done.stderr and "0644" in done.stderr
