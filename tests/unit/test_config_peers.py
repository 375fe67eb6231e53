"""`[[diameter.peers]] relay/applications` and the `[diameter]` connection caps (issue 14 points 1, 2), as the
config reads them and as the daemon hands them to the node."""

from __future__ import annotations

import pytest

from ocs.config import parse_config
from ocs.daemon import peer_config
from ocs.diameter.node import PeerConfig
from tests.unit.test_config import MINIMAL, error_of, with_


def test_defaults():
    c = parse_config(with_("diameter", peers=[{"origin_host": "mme"}]))
    assert c.diameter.max_connections == 1024 and c.diameter.max_pending_connections == 64
    assert c.diameter.max_cer_size == 4096
    assert c.diameter.peers[0].relay is False and c.diameter.peers[0].applications is None
    assert peer_config(c.diameter.peers[0]) == PeerConfig("mme")
    assert parse_config(MINIMAL).diameter.peers == ()


def test_values_reach_the_node():
    c = parse_config(with_("diameter", max_connections=10, max_pending_connections=3, max_cer_size=2048,
                           peers=[{"origin_host": "dra", "realm": "r", "relay": True,
                                   "applications": ["s6a", "gy"]}]))
    assert (c.diameter.max_connections, c.diameter.max_pending_connections, c.diameter.max_cer_size) == (10, 3, 2048)
    assert peer_config(c.diameter.peers[0]) == PeerConfig("dra", "r", None, relay=True,
                                                          applications=frozenset({16777251, 4}))


@pytest.mark.parametrize(("values", "key"), [
    ({"peers": [{"origin_host": "a", "relay": "yes"}]}, "diameter.peers[0].relay"),
    ({"peers": [{"origin_host": "a", "applications": ["s6b"]}]}, "diameter.peers[0].applications[0]"),
    ({"peers": [{"origin_host": "a", "applications": []}]}, "diameter.peers[0].applications"),
    ({"peers": [{"origin_host": "a", "applications": "gy"}]}, "diameter.peers[0].applications"),
    ({"max_connections": 0}, "diameter.max_connections"),
    ({"max_pending_connections": 0}, "diameter.max_pending_connections"),
    ({"max_cer_size": 100}, "diameter.max_cer_size"),
])
def test_mistakes_are_named(values, key):
    assert error_of(with_("diameter", **values)).startswith(f"{key}: ")
