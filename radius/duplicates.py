"""The duplicate cache (RFC 5080 §2.2.2): a request with the same client address, source port, Identifier and
Request Authenticator seen within `window` seconds is a retransmission; it gets the reply already sent (or
nothing while the first is still being worked on) and changes nothing. Pure: `now` is passed in.
"""

from __future__ import annotations

from collections import OrderedDict

Key = tuple[str, int, int, bytes]  # (client address, source port, identifier, request authenticator)
PENDING = b""


class DuplicateCache:
    def __init__(self, window: float = 5.0, limit: int = 100_000) -> None:
        self.window = window
        self.limit = limit
        self._entries: OrderedDict[Key, tuple[float, bytes]] = OrderedDict()

    def seen(self, key: Key, now: float) -> bytes | None:
        """None for a new request (now marked pending); else the cached reply (PENDING: not answered yet)."""
        self._expire(now)
        entry = self._entries.get(key)
        if entry is not None:
            return entry[1]
        if len(self._entries) >= self.limit:
            self._entries.popitem(last=False)
        self._entries[key] = (now, PENDING)
        return None

    def answered(self, key: Key, reply: bytes) -> None:
        entry = self._entries.get(key)
        if entry is not None:
            self._entries[key] = (entry[0], reply)

    def forget(self, key: Key) -> None:
        """The request got no reply (dropped): a retransmission is then worked on afresh."""
        self._entries.pop(key, None)

    def _expire(self, now: float) -> None:
        entries, limit = self._entries, now - self.window
        while entries:
            key, (t, _) = next(iter(entries.items()))
            if t > limit:
                break
            del entries[key]

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["PENDING", "DuplicateCache"]
