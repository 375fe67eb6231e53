"""Rate-limited log events: the first event from a source is logged, the rest are counted and summarised.

Theory of operation
-------------------
A hostile or broken peer can make the same event (a refused CER, a framing error) thousands of times a second;
one log line each would flood the journal and hide everything else. `RateLimiter` is sans-IO (fed `now`,
no clock, no asyncio): `hit(key, now, last)` says whether to log this event. The first event of a key opens a
window of `interval` seconds and is logged; the events after it in that window are only counted. When the window
ends (`expire(now)`, called at `next_deadline()`), a key that suppressed events gives one `Summary` with their
count and the details of the last one, and a new silent window starts, so a sustained flood gives one line per
interval; a key whose window passed quietly is forgotten, so its next event is logged at once.

At most `max_keys` keys are tracked: the oldest window is closed early (its summary returned by the next
`expire`) rather than letting a flood from many sources grow the table.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True, slots=True)
class Summary(Generic[K]):
    key: K
    suppressed: int    # events counted and not logged in the window
    last: object       # what the caller passed with the last of them (e.g. the remote address)


@dataclass(slots=True)
class _Window:
    until: float
    suppressed: int = 0
    last: object = None


class RateLimiter(Generic[K]):
    def __init__(self, interval: float = 10.0, max_keys: int = 10_000) -> None:
        if interval <= 0 or max_keys < 1:
            raise ValueError("interval must be > 0 and max_keys >= 1")
        self.interval = interval
        self.max_keys = max_keys
        self._windows: OrderedDict[K, _Window] = OrderedDict()  # by window end, oldest first
        self._pending: list[Summary[K]] = []  # windows closed early, summaries not yet taken

    def hit(self, key: K, now: float, last: object = None) -> bool:
        """An event from `key`: True when it is to be logged now, False when it was counted instead."""
        windows = self._windows
        window = windows.get(key)
        if window is not None and now >= window.until:  # ended, not yet expired: close it so no count is lost
            self._pending.extend(self._close(key, window, now))
            window = windows.get(key)  # the silent window that follows a suppressing one, if any
        if window is not None:
            window.suppressed += 1
            window.last = last
            return False
        if len(windows) >= self.max_keys:
            old_key, old = windows.popitem(last=False)
            if old.suppressed:
                self._pending.append(Summary(old_key, old.suppressed, old.last))
        windows[key] = _Window(now + self.interval)
        return True

    def expire(self, now: float) -> list[Summary[K]]:
        """Close the windows that ended by `now`: a summary for each that suppressed events."""
        out, self._pending = self._pending, []
        windows = self._windows
        while windows:
            key, window = next(iter(windows.items()))
            if window.until > now:
                break
            out.extend(self._close(key, window, now))
        return out

    def next_deadline(self) -> float | None:
        if self._pending:
            return 0.0  # already due
        return next(iter(self._windows.values())).until if self._windows else None

    def __len__(self) -> int:
        return len(self._windows)

    def _close(self, key: K, window: _Window, now: float) -> list[Summary[K]]:
        del self._windows[key]
        if not window.suppressed:
            return []
        # a flood goes on being summarised once per interval, not logged again event by event
        self._windows[key] = _Window(max(now, window.until) + self.interval)
        return [Summary(key, window.suppressed, window.last)]


__all__ = ["RateLimiter", "Summary"]
