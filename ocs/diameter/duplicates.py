"""Answers kept for retransmitted requests (RFC 6733 §6.2: a request with the T flag gets the same answer).

A key names the authenticated peer whose connection brought the request (the CER identity, never a value the
request itself claims), the request's Origin-Host (several behind a relay) and its End-to-End-Id. An entry is
pending (None) while the application works on the request, then holds the answer's bytes for `window` s.
"""

from __future__ import annotations

from collections import OrderedDict

Key = tuple[str, bytes, int]  # (authenticated peer, Origin-Host octets, End-to-End-Id), names in lower case


class DuplicateCache:
    __slots__ = ("window", "max_entries", "_entries")

    def __init__(self, window: float, max_entries: int) -> None:
        self.window = window
        self.max_entries = max_entries
        self._entries: OrderedDict[Key, tuple[float, bytes | None]] = OrderedDict()

    def get(self, key: Key) -> tuple[float, bytes | None] | None:
        return self._entries.get(key)

    def pending(self, key: Key, now: float) -> None:
        entries = self._entries
        entries[key] = (now + self.window, None)  # in flight: a retransmission is dropped
        if len(entries) > self.max_entries:
            entries.popitem(last=False)

    def answered(self, key: Key, data: bytes, now: float) -> None:
        self._entries[key] = (now + self.window, data)
        self._entries.move_to_end(key)

    def expire(self, now: float) -> None:
        entries = self._entries
        while entries:
            key, (expiry, _) = next(iter(entries.items()))
            if expiry > now:
                break
            del entries[key]

    def deadline(self) -> float | None:
        return next(iter(self._entries.values()))[0] if self._entries else None

    def __len__(self) -> int:
        return len(self._entries)
