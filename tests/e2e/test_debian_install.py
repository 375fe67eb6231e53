"""Installs the Debian way (issue 13 point 6), end to end in a scratch prefix: the README's production steps —
a venv at <prefix>/opt/ocsd with ocsd installed into it (a built wheel, not an editable checkout), the data
files under <prefix>/opt/ocsd/share/ocsd, `ocsd keys generate`, `ocsd db create`, `ocsd config check`, the
daemon started as the unit starts it (the venv's `ocsd run -c FILE`, outside the source tree, no PYTHONPATH),
then `ocsd status` says ready. The systemd unit carries the hardening the issue lists and `systemd-analyze
security` rates it (when systemd-analyze is installed).

ocsd is built into a wheel by pip (its build backend, setuptools, fetched as pip always does) and installed
with --no-deps; the run-time dependencies come from the test's own environment (a .pth line), so the test
downloads no dependency and takes seconds."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import sysconfig
import time
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import REDIS_URL, dsn_for
from tests.support.async_run import run_sync
from tests.support.daemon_process import ROOT, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

UNIT = ROOT / "systemd" / "ocsd.service"
HARDENING = ("ProtectClock=yes", "ProtectKernelLogs=yes", "ProtectHostname=yes", "RestrictSUIDSGID=yes",
             "RestrictRealtime=yes", "ProtectProc=invisible", "UMask=0077", "RemoveIPC=yes",
             "SystemCallFilter=@system-service", "SystemCallArchitectures=native")


def sh(*argv: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    done = subprocess.run([str(a) for a in argv], capture_output=True, text=True, timeout=180, env=env, cwd=cwd)
    assert done.returncode == 0, f"{argv}: {done.stdout}\n{done.stderr}"
    return done.stdout


def install(tmp: Path) -> Path:
    """python3 -m venv <prefix>/opt/ocsd && <venv>/bin/pip install ./ocsd (from a wheel built of a copy)."""
    source = tmp / "src"
    shutil.copytree(ROOT, source, ignore=shutil.ignore_patterns(
        ".venv", ".git", "tests", "bench", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis"))
    wheels = tmp / "wheels"
    sh(sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", wheels, source)
    venv = tmp / "opt" / "ocsd"
    sh(sys.executable, "-m", "venv", "--without-pip", venv)
    (wheel,) = wheels.glob("ocsd-*.whl")
    sh(sys.executable, "-m", "pip", "--python", venv / "bin" / "python", "install", "--quiet", "--no-deps",
       "--no-index", wheel)
    site = Path(sh(venv / "bin" / "python", "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])").strip())
    (site / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def test_unit_carries_the_hardening():
    text = UNIT.read_text()
    for line in HARDENING:
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert re.search(r"^ExecStart=/opt/ocsd/bin/ocsd run -c /etc/ocsd/ocsd.toml$", text, re.M)
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    done = subprocess.run(["systemd-analyze", "security", "--offline=true", str(UNIT)], capture_output=True,
                          text=True, timeout=60)
    level = re.search(r"Overall exposure level for ocsd.service: ([0-9.]+)", done.stdout)
    if level is None:
        pytest.skip(f"systemd-analyze security --offline is not supported here: {done.stderr.strip()}")
    assert float(level[1]) <= 2.0, done.stdout


def test_install_into_a_scratch_prefix_and_status(tmp_path: Path):
    from tests.integration.conftest import drop_database

    venv = install(tmp_path)
    ocsd = venv / "bin" / "ocsd"
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "OCSD_CONFIG", "VIRTUAL_ENV")}
    where = sh(venv / "bin" / "python", "-c", "import ocs, ocs.diameter.dictionary as d; "
               "print(ocs.__file__); print(d.default_dictionary_dir())", env=env, cwd=tmp_path).split()
    assert all(Path(p).is_relative_to(venv) for p in where), where  # the installed copy and its data files
    example = venv / "share" / "ocsd" / "conf" / "ocsd.example.toml"
    assert example.is_file()

    etc = tmp_path / "etc" / "ocsd"
    etc.mkdir(parents=True)
    sh(ocsd, "keys", "generate", etc / "keys.bin", env=env)
    name = "ocsd_install_" + secrets.token_hex(5)
    admin = free_port()
    config = etc / "ocsd.toml"
    config.write_text(f"""
[node]
origin_host = "ocsd.install.test"
origin_realm = "install.test"
[diameter]
listen = ["127.0.0.1:{free_port()}"]
applications = ["s6a"]
[[diameter.peers]]
origin_host = "mme.install.test"
[redis]
url = "{REDIS_URL}"
key_prefix = "ocsinst{secrets.token_hex(3)}"
[postgres]
dsn = "{dsn_for(name)}"
[admin]
listen = "127.0.0.1:{admin}"
token = "{secrets.token_hex(16)}"
[log]
format = "json"
[keys]
file = "{etc / 'keys.bin'}"
[auc]
home_plmns = ["00101"]
""")
    daemon = None
    try:
        assert json.loads(sh(ocsd, "db", "create", "-c", config, "--json", env=env))["created"] is True
        assert sh(ocsd, "config", "check", "-c", config, env=env) == "ok\n"
        daemon = subprocess.Popen([ocsd, "run", "-c", config], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{admin}/readyz", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            assert daemon.poll() is None, daemon.stderr.read().decode() if daemon.stderr else ""
            assert time.monotonic() < deadline, "the installed daemon never became ready"
            time.sleep(0.2)
        status = json.loads(sh(ocsd, "status", "-c", config, "--json", env=env))
        assert status["ready"] is True
        assert status["peers"] == [{"peer": "mme.install.test", "state": "Closed", "last_watchdog_seconds_ago": None}]
        assert "ready" in sh(ocsd, "status", "-c", config, env=env)
    finally:
        if daemon is not None and daemon.poll() is None:
            daemon.send_signal(signal.SIGTERM)
            daemon.wait(30)
        run_sync(drop_database(name))
