"""Requests we send: ids, answers matched once, timeouts, and no failover when the peer goes down."""

import random

from ocs.diameter.correlation import Correlation
from ocs.diameter.effects import RequestFailed


def test_ids_answers_timeouts_and_peer_down():
    c = Correlation(random.Random(3), timeout=10.0)
    a, b, x = c.next_hop_by_hop(), c.next_hop_by_hop(), c.next_hop_by_hop()
    assert len({a, b, x}) == 3
    e2e = c.next_end_to_end(4096.0 + 5)
    assert e2e >> 20 == 5  # RFC 6733 §3: the low 12 bits of the time in the high bits
    c.sent("mme", a, 100.0)
    c.sent("mme", b, 101.0)
    c.sent("pgw", x, 102.0)
    assert c.answered(a) == "mme" and c.answered(a) is None  # matched once (RFC 6733 §6.2.1)
    assert c.deadline() == 111.0  # a's wake-up is dropped once it is answered
    assert c.peer_down("pgw") == [RequestFailed("pgw", x, "peer-down")]  # no failover: it fails at once
    assert c.expire(110.9) == []
    assert c.expire(111.0) == [RequestFailed("mme", b, "timeout")]
    assert len(c) == 0 and c.deadline() is None
