"""ocs.config: defaults, the shipped files, and errors that name their full key."""

from __future__ import annotations

import dataclasses
import re
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ocs import config as config_module
from ocs.config import Config, ConfigError, load_config, parse_config, split_hostport
from ocs.config.payments import MpesaConfig, WebhookProviderConfig
from ocs.config.radius import RadiusClientConfig

ROOT = Path(__file__).resolve().parents[2]
MINIMAL: dict[str, Any] = {"node": {"origin_host": "ocs.test", "origin_realm": "test"}}


def with_(section: str, **values: object) -> dict[str, Any]:
    doc = {k: dict(v) for k, v in MINIMAL.items()}
    doc.setdefault(section, {}).update(values)
    return doc


def error_of(doc: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    return str(info.value)


def test_minimal_config_has_the_documented_defaults():
    c = parse_config(MINIMAL)
    assert c.node.product_name == "ocsd" and c.node.vendor_id == 0
    assert c.node.host_ip_addresses == ("127.0.0.1",)
    assert c.diameter.listen == ("127.0.0.1:3868",)
    assert c.diameter.watchdog_interval == 30.0
    assert c.diameter.in_flight_limit == 1000
    assert c.diameter.request_timeout == 10.0
    assert c.diameter.applications == () and c.diameter.peers == () and c.diameter.dictionaries is None
    assert c.redis.url == "redis://127.0.0.1:6379/0" and c.redis.key_prefix == "ocsd:"
    assert c.postgres.dsn == "postgresql://postgres@127.0.0.1:5432/ocsd"
    assert c.admin.listen == "127.0.0.1:9100" and c.admin.token is None
    assert c.log.level == "info" and c.log.format == "auto"


def test_stores_are_configured_when_both_sections_are_given():
    assert not parse_config(MINIMAL).stores_configured
    assert not parse_config(with_("redis", url="redis://127.0.0.1:6379/0")).stores_configured
    both = with_("redis", key_prefix="x:")
    both["postgres"] = {}
    assert parse_config(both).stores_configured


def test_config_is_frozen():
    c = parse_config(MINIMAL)
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.node.origin_host = "x"  # type: ignore[misc]


def test_example_and_demo_configs_parse():
    example = load_config(ROOT / "conf" / "ocsd.example.toml")
    assert example.node.origin_host
    demo = load_config(ROOT / "conf" / "demo.toml")
    assert demo.node.origin_host == "ocsd.demo.local" and demo.node.origin_realm == "demo.local"
    assert [p.origin_host for p in demo.diameter.peers] == ["mme.demo.local", "smf.demo.local"]
    assert demo.postgres.dsn.endswith("/ocsd_demo")
    assert demo.admin.listen == "127.0.0.1:9100" and demo.admin.token == "demo-token"
    for address in (*demo.diameter.listen, demo.admin.listen):
        assert split_hostport(address)[0] == "127.0.0.1"  # loopback only


def test_example_documents_every_key():
    """Every key of every section appears in the example (commented out or not), after a comment."""
    text = (ROOT / "conf" / "ocsd.example.toml").read_text()
    sections = {f.name: f.type for f in dataclasses.fields(Config) if f.name != "stores_configured"}  # not a key
    assert set(sections) == {"node", "diameter", "redis", "postgres", "admin", "log", "keys", "auc", "charging",
                             "gy", "gx", "radius", "sms", "payments", "portal", "notify", "daemon"}
    classes: list[tuple[str, type]] = [(name, getattr(config_module, str(t))) for name, t in sections.items()]
    classes.append(("diameter.peers", config_module.DiameterPeerConfig))
    classes.append(("radius.clients", RadiusClientConfig))
    classes.append(("payments.mpesa", MpesaConfig))
    classes.append(("payments.webhooks", WebhookProviderConfig))
    for name, cls in classes:
        arrays = ("diameter.peers", "radius.clients", "payments.webhooks")
        header = f"[[{name}]]" if name in arrays else f"[{name}]"
        assert header in text
        for f in dataclasses.fields(cls):
            if f.name in ("peers", "clients", "mpesa", "webhooks"):
                continue
            assert re.search(rf"^# .*\n(#.*\n)*#? ?{f.name} = ", text, re.M), f"{name}.{f.name} undocumented"


@pytest.mark.parametrize(("doc", "key"), [
    ({}, "node.origin_host"),
    ({"node": {"origin_host": "x"}}, "node.origin_realm"),
    (with_("diameter", peers=[{"realm": "r"}]), "diameter.peers[0].origin_host"),
])
def test_missing_required_key_is_named(doc, key):
    assert error_of(doc) == f"{key}: is required"


@pytest.mark.parametrize(("doc", "key"), [
    ({**MINIMAL, "nodes": {}}, "nodes"),
    (with_("node", origin_hots="x"), "node.origin_hots"),
    (with_("diameter", watchdog=30), "diameter.watchdog"),
    (with_("diameter", peers=[{"origin_host": "a", "conect": "h:1"}]), "diameter.peers[0].conect"),
    (with_("redis", host="x"), "redis.host"),
    (with_("postgres", url="x"), "postgres.url"),
    (with_("admin", port=9100), "admin.port"),
    (with_("log", levle="info"), "log.levle"),
])
def test_unknown_key_is_named(doc, key):
    assert error_of(doc) == f"{key}: unknown key"


@pytest.mark.parametrize(("section", "values", "key"), [
    ("node", {"origin_host": ""}, "node.origin_host"),
    ("node", {"origin_realm": 5}, "node.origin_realm"),
    ("node", {"product_name": 1}, "node.product_name"),
    ("node", {"vendor_id": "10415"}, "node.vendor_id"),
    ("node", {"vendor_id": -1}, "node.vendor_id"),
    ("node", {"vendor_id": True}, "node.vendor_id"),
    ("node", {"host_ip_addresses": "127.0.0.1"}, "node.host_ip_addresses"),
    ("node", {"host_ip_addresses": ["127.0.0.1", "localhost"]}, "node.host_ip_addresses[1]"),
    ("node", {"host_ip_addresses": []}, "node.host_ip_addresses"),
    ("diameter", {"listen": ["127.0.0.1"]}, "diameter.listen[0]"),
    ("diameter", {"listen": ["127.0.0.1:70000"]}, "diameter.listen[0]"),
    ("diameter", {"listen": ["::1:3868"]}, "diameter.listen[0]"),
    ("diameter", {"watchdog_interval": "x"}, "diameter.watchdog_interval"),
    ("diameter", {"watchdog_interval": 5.9}, "diameter.watchdog_interval"),
    ("diameter", {"in_flight_limit": 0}, "diameter.in_flight_limit"),
    ("diameter", {"in_flight_limit": 1.5}, "diameter.in_flight_limit"),
    ("diameter", {"request_timeout": 0}, "diameter.request_timeout"),
    ("diameter", {"applications": ["gy", "ro"]}, "diameter.applications[1]"),
    ("diameter", {"applications": ["gy", "gy"]}, "diameter.applications"),
    ("diameter", {"dictionaries": 3}, "diameter.dictionaries"),
    ("diameter", {"peers": {"origin_host": "a"}}, "diameter.peers"),
    ("diameter", {"peers": [{"origin_host": "a"}, {"origin_host": "a"}]}, "diameter.peers[1].origin_host"),
    ("diameter", {"peers": [{"origin_host": "a", "connect": "a"}]}, "diameter.peers[0].connect"),
    ("diameter", {"peers": [{"origin_host": "a", "realm": 1}]}, "diameter.peers[0].realm"),
    ("diameter", {"peers": ["a"]}, "diameter.peers[0]"),
    ("redis", {"url": "http://x"}, "redis.url"),
    ("redis", {"key_prefix": 1}, "redis.key_prefix"),
    ("postgres", {"dsn": "mysql://x"}, "postgres.dsn"),
    ("admin", {"listen": "9100"}, "admin.listen"),
    ("admin", {"token": ""}, "admin.token"),
    ("log", {"level": "trace"}, "log.level"),
    ("log", {"format": "xml"}, "log.format"),
])
def test_bad_value_is_named(section, values, key):
    message = error_of(with_(section, **values))
    assert message.startswith(f"{key}: must "), message


def test_message_shows_the_rule_and_the_value():
    assert error_of(with_("diameter", watchdog_interval="x")) == \
        "diameter.watchdog_interval: must be a number >= 6, got 'x'"


def test_section_must_be_a_table():
    assert error_of({**MINIMAL, "redis": "redis://x"}).startswith("redis: must be a table")


def test_values_are_converted():
    c = parse_config(with_("diameter", watchdog_interval=6, listen=["[::1]:3868", "0.0.0.0:3869"],
                           applications=["s6a", "gy"],
                           peers=[{"origin_host": "mme", "realm": "r", "connect": "10.0.0.1:3868"}]))
    assert c.diameter.watchdog_interval == 6.0 and isinstance(c.diameter.watchdog_interval, float)
    assert c.diameter.applications == ("s6a", "gy")
    assert c.diameter.peers[0].connect == "10.0.0.1:3868" and c.diameter.peers[0].realm == "r"
    assert split_hostport("[::1]:3868") == ("::1", 3868)


def test_token_is_not_in_repr():
    c = parse_config(with_("admin", token="s3cret-token"))
    assert c.admin.token == "s3cret-token"
    assert "s3cret" not in repr(c)


def test_load_config_errors_name_the_file(tmp_path):
    with pytest.raises(ConfigError, match=r"missing\.toml: cannot read"):
        load_config(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[node\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: invalid TOML"):
        load_config(bad)


def test_dictionaries_path_is_relative_to_the_config_file(tmp_path):
    path = tmp_path / "ocsd.toml"
    path.write_text('[node]\norigin_host = "a"\norigin_realm = "b"\n[diameter]\ndictionaries = "dict"\n')
    assert load_config(path).diameter.dictionaries == str(tmp_path / "dict")


def test_version_matches_pyproject():
    from ocs import __version__

    with (ROOT / "pyproject.toml").open("rb") as f:
        assert tomllib.load(f)["project"]["version"] == __version__


def test_shipped_data_is_found_in_the_checkout():
    from ocs.config import data_dirs, find_data_dir

    assert find_data_dir("conf") == ROOT / "conf"
    assert data_dirs("dictionaries/diameter")[0] == ROOT / "dictionaries" / "diameter"
    installed = [d for d in data_dirs("dictionaries/diameter") if d.parts[-4:-2] == ("share", "ocsd")]
    assert installed
    assert find_data_dir("no/such/dir") is None


def test_write_buffer_marks_and_log_rate_limit():
    c = parse_config(MINIMAL)
    assert (c.diameter.write_buffer_high, c.diameter.write_buffer_low) == (1048576, 262144)
    assert c.log.rate_limit_interval == 10.0
    c = parse_config(with_("diameter", write_buffer_high=4096, write_buffer_low=0))
    assert (c.diameter.write_buffer_high, c.diameter.write_buffer_low) == (4096, 0)
    assert error_of(with_("diameter", write_buffer_high=0)).startswith("diameter.write_buffer_high: must ")
    assert error_of(with_("diameter", write_buffer_low=-1)).startswith("diameter.write_buffer_low: must ")
    assert error_of(with_("diameter", write_buffer_high=1000, write_buffer_low=1001)) == (
        "diameter.write_buffer_low: must be at most write_buffer_high (1000), got 1001")
    assert error_of(with_("log", rate_limit_interval=0)).startswith("log.rate_limit_interval: must ")
