"""Requests we send (RAR, ASR, CLR, DWR, CER, DPR): identifiers, and answers matched to them (RFC 6733 §6.2).

Hop-by-hop ids are unique on a connection and matched by the answer (§6.2.1); end-to-end ids carry 12 bits of
the start time and a counter (§3). A request we originate waits `timeout` seconds for its answer; when the
peer goes down first it fails at once: there is no failover to another peer (ocsd is an endpoint, §5.5.4).
"""

from __future__ import annotations

import heapq
import random

from ocs.diameter.effects import RequestFailed


class Correlation:
    __slots__ = ("timeout", "_hbh", "_e2e", "_outstanding", "_timeouts")

    def __init__(self, rng: random.Random, timeout: float) -> None:
        self.timeout = timeout
        self._hbh = rng.getrandbits(32)
        self._e2e = rng.getrandbits(20)
        self._outstanding: dict[int, str] = {}        # hop-by-hop -> peer name
        self._timeouts: list[tuple[float, int]] = []  # heap of (deadline, hop-by-hop)

    def next_hop_by_hop(self) -> int:
        self._hbh = (self._hbh + 1) & 0xFFFFFFFF
        return self._hbh

    def next_end_to_end(self, now: float) -> int:
        # RFC 6733 §3: high 12 bits from the low bits of the time, low 20 bits a counter from a random start
        self._e2e = (self._e2e + 1) & 0xFFFFF
        return ((int(now) & 0xFFF) << 20) | self._e2e

    def sent(self, peer: str, hop_by_hop: int, now: float) -> None:
        self._outstanding[hop_by_hop] = peer
        heapq.heappush(self._timeouts, (now + self.timeout, hop_by_hop))

    def answered(self, hop_by_hop: int) -> str | None:
        """The peer the answered request went to, or None for an answer we cannot match (§6.2.1)."""
        return self._outstanding.pop(hop_by_hop, None)

    def expire(self, now: float) -> list[RequestFailed]:
        failed = []
        while self._timeouts and self._timeouts[0][0] <= now:
            _, hbh = heapq.heappop(self._timeouts)
            name = self._outstanding.pop(hbh, None)
            if name is not None:
                failed.append(RequestFailed(name, hbh, "timeout"))
        return failed

    def peer_down(self, peer: str) -> list[RequestFailed]:
        gone = [hbh for hbh, name in self._outstanding.items() if name == peer]
        for hbh in gone:
            del self._outstanding[hbh]
        return [RequestFailed(peer, hbh, "peer-down") for hbh in gone]

    def deadline(self) -> float | None:
        while self._timeouts and self._timeouts[0][1] not in self._outstanding:
            heapq.heappop(self._timeouts)  # answered already: no wake-up for it
        return self._timeouts[0][0] if self._timeouts else None

    def __len__(self) -> int:
        return len(self._outstanding)
