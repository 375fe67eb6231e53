"""Device watchdog of RFC 3539 §3.4 for one open connection, pure: fed with `now`, returns what to do.

States OKAY and SUSPECT as in §3.4.1; DOWN is the connection's end (the peer machine closes it and, for
outbound peers, the node reconnects after Tc). Departure: REOPEN's "three DWAs before failback" is replaced by
the CER/CEA exchange of a new connection, which RFC 6733 §5.5.4 already requires before any traffic.
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field


class WatchdogState(enum.Enum):
    OKAY = "okay"
    SUSPECT = "suspect"
    DOWN = "down"


class WatchdogAction(enum.Enum):
    NONE = "none"
    SEND_DWR = "send-dwr"
    SUSPECT = "suspect"   # Failover(): no traffic for one Tw with a DWR unanswered
    CLOSE = "close"       # still silent: close the connection


# RFC 3539 §3.4.1: (state, pending DWR) on timer expiry -> (action, next state)
TIMEOUTS: dict[tuple[WatchdogState, bool], tuple[WatchdogAction, WatchdogState]] = {
    (WatchdogState.OKAY, False): (WatchdogAction.SEND_DWR, WatchdogState.OKAY),
    (WatchdogState.OKAY, True): (WatchdogAction.SUSPECT, WatchdogState.SUSPECT),
    (WatchdogState.SUSPECT, False): (WatchdogAction.CLOSE, WatchdogState.DOWN),
    (WatchdogState.SUSPECT, True): (WatchdogAction.CLOSE, WatchdogState.DOWN),
    (WatchdogState.DOWN, False): (WatchdogAction.NONE, WatchdogState.DOWN),
    (WatchdogState.DOWN, True): (WatchdogAction.NONE, WatchdogState.DOWN),
}


@dataclass(slots=True)
class Watchdog:
    tw_init: float  # RFC 3539 §3.4.1 Twinit, at least 6 s
    rng: random.Random = field(default_factory=random.Random)
    state: WatchdogState = WatchdogState.OKAY
    pending: bool = False
    deadline: float = 0.0
    last_received: float | None = None  # when the peer last proved alive (any message), for `ocsd status`
    _tw: float | None = None  # Tw with its jitter, drawn again after each expiry

    def start(self, now: float) -> None:
        self._set(now)

    def _set(self, now: float) -> None:
        # RFC 3539 §3.4.1 SetWatchdog(): Tw = Twinit + random jitter in [-2, 2] seconds. The jitter is drawn
        # once per timer that runs out (expire), not per message received (issue 15): a reset per request
        # moves the deadline by the same Tw until the peer goes quiet, and the jitter then applies as drawn.
        tw = self._tw
        if tw is None:
            tw = self._tw = self.tw_init + self.rng.uniform(-2.0, 2.0)
        self.deadline = now + tw

    def received(self, now: float, is_dwa: bool) -> None:
        """Any message from the peer proves it alive (OKAY/SUSPECT: SetWatchdog, failback)."""
        if self.state is WatchdogState.DOWN:
            return
        if is_dwa:
            self.pending = False
        self.state = WatchdogState.OKAY
        self.last_received = now
        self._set(now)

    def expire(self, now: float) -> WatchdogAction:
        self._tw = None
        action, self.state = TIMEOUTS[(self.state, self.pending)]
        if action is WatchdogAction.SEND_DWR:
            self.pending = True
        if self.state is not WatchdogState.DOWN:
            self._set(now)
        return action
