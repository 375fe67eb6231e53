"""The `ocsd` command line: --version, `config check` with its exit codes and --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from ocs import __version__
from ocs.cli import cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_version(runner):
    result = runner.invoke(cli, ["--version"], prog_name="ocsd")
    assert result.exit_code == 0
    assert result.output == f"ocsd {__version__}\n"
    assert __version__ == "0.1.0"


@pytest.mark.parametrize("name", ["demo.toml", "ocsd.example.toml"])
def test_config_check_ok(runner, name):
    result = runner.invoke(cli, ["config", "check", "--offline", "-c", str(ROOT / "conf" / name)])
    assert result.exit_code == 0, result.output
    assert result.stdout == "ok\n"


def test_config_check_ok_json(runner):
    result = runner.invoke(cli, ["config", "check", "--offline", "--json", "-c", str(ROOT / "conf" / "demo.toml")])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == {"ok": True}


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.toml"
    path.write_text('[node]\norigin_host = "a"\norigin_realm = "b"\n[diameter]\nwatchdog_interval = "x"\n')
    return path


def test_config_check_bad(runner, bad_config):
    result = runner.invoke(cli, ["config", "check", "-c", str(bad_config)])
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == "error: diameter.watchdog_interval: must be a number >= 6, got 'x'\n"


def test_config_check_bad_json(runner, bad_config):
    result = runner.invoke(cli, ["config", "check", "--json", "-c", str(bad_config)])
    assert result.exit_code == 2
    assert json.loads(result.stdout) == {
        "ok": False, "error": "diameter.watchdog_interval: must be a number >= 6, got 'x'"}


def test_config_check_missing_file(runner, tmp_path):
    result = runner.invoke(cli, ["config", "check", "-c", str(tmp_path / "nope.toml")])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ") and "nope.toml: cannot read" in result.stderr


def test_config_path_from_environment(runner):
    result = runner.invoke(cli, ["config", "check", "--offline"], env={"OCSD_CONFIG": str(ROOT / "conf" / "demo.toml")})
    assert result.exit_code == 0 and result.stdout == "ok\n"


def test_run_with_bad_config_exits_2_before_starting(runner, bad_config, monkeypatch):
    import ocs.cli

    def fail(*_args: object) -> None:
        raise AssertionError("logging must not be configured for a bad config")

    monkeypatch.setattr("ocs.logs.configure_logging", fail)
    result = runner.invoke(ocs.cli.cli, ["run", "-c", str(bad_config)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: diameter.watchdog_interval")


def test_run_hands_the_config_to_the_daemon(runner, monkeypatch):
    """`ocsd run` loads the config, configures logging, then calls ocs.daemon.run_daemon(config)."""
    import sys
    import types

    calls: list[object] = []
    fake = types.ModuleType("ocs.daemon")
    fake.run_daemon = calls.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "ocs.daemon", fake)
    monkeypatch.setattr("ocs.logs.configure_logging", lambda level, fmt: calls.append((level, fmt)))
    result = runner.invoke(cli, ["run", "-c", str(ROOT / "conf" / "demo.toml")])
    assert result.exit_code == 0, result.output
    assert calls[0] == ("info", "auto")
    assert calls[1].node.origin_host == "ocsd.demo.local"  # type: ignore[attr-defined]
