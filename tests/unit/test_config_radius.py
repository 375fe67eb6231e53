"""`[radius]` and `[[radius.clients]]`: defaults, and each mistake named by its full key."""

from __future__ import annotations

import pytest

from ocs.config import ConfigError, parse_config

NODE = {"node": {"origin_host": "ocs.test", "origin_realm": "test"}}
CLIENT = {"address": "192.0.2.0/24", "secret": "s"}


def radius(**values: object) -> dict:
    return {**NODE, "radius": values}


def test_defaults_and_a_client():
    r = parse_config(radius(enabled=True, clients=[CLIENT])).radius
    assert (r.auth_listen, r.acct_listen, r.on_exhausted, r.interim_interval) == (
        "127.0.0.1:1812", "127.0.0.1:1813", "disconnect", 300)
    c = r.clients[0]
    assert (c.name, c.coa_port, c.message_authenticator) == ("192.0.2.0/24", 3799, "accept")
    assert "secret=" not in repr(c)  # never printed


def test_disabled_by_default():
    assert not parse_config(NODE).radius.enabled


@pytest.mark.parametrize(("doc", "message"), [
    (radius(enabled=True), "radius.clients: [radius] enabled needs at least one [[radius.clients]]"),
    (radius(clients=[{"address": "not-an-ip", "secret": "s"}]), "radius.clients[0].address: must be an IP"),
    (radius(clients=[{"address": "192.0.2.1"}]), "radius.clients[0].secret: is required"),
    (radius(clients=[{**CLIENT, "message_authenticator": "maybe"}]), "radius.clients[0].message_authenticator"),
    (radius(clients=[CLIENT, {"address": "192.0.2.7/24", "secret": "t"}]), "radius.clients[1].address: must be unique"),
    (radius(on_exhausted="block"), "radius.on_exhausted"),
    (radius(clients=[{**CLIENT, "coa_port": 70000}]), "radius.clients[0].coa_port"),
    (radius(auth_port=1812), "radius.auth_port: unknown key"),
])
def test_mistakes_are_named(doc, message):
    with pytest.raises(ConfigError) as info:
        parse_config(doc)
    assert str(info.value).startswith(message)
