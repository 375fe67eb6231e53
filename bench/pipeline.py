"""A pipelining Diameter client for the benchmarks: one TCP connection, up to `window` requests in flight.

Requests are prepared messages (`templates`, used in turn) whose hop-by-hop and end-to-end ids are set per
request, so the client spends its time on the socket, not on encoding. Every answer is framed; every
`check_every`-th one is handed to `check` (e.g. to assert its Result-Code) so a benchmark cannot count errors.
With a `latencies` list, the time from the write of each request to the read of its answer is appended to it
(one clock reading per batch written and per chunk read, so measuring costs the client little).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence


async def run_client(port: int, cer: bytes, templates: Sequence[bytes], requests: int, window: int,
                     check: Callable[[bytes], None] = lambda answer: None, check_every: int = 997,
                     latencies: list[float] | None = None) -> float:
    """Requests per second over one connection to 127.0.0.1:`port` after the CER/CEA exchange."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(cer)
    head = await reader.readexactly(4)
    await reader.readexactly(int.from_bytes(head[1:4], "big") - 4)
    parts_of = [(t[:12], t[20:]) for t in templates]
    batch = 64
    sent = received = 0
    sent_at = [0.0] * requests if latencies is not None else []
    clock = time.perf_counter
    started = clock()

    def send(n: int) -> None:
        nonlocal sent
        if latencies is not None:
            sent_at[sent:sent + n] = [clock()] * n
        parts = []
        for i in range(sent, sent + n):
            prefix, body = parts_of[i % len(parts_of)]
            ident = (i + 10).to_bytes(4, "big")
            parts.append(prefix + ident + ident + body)
        sent += n
        writer.write(b"".join(parts))

    send(min(window, requests))
    buf = bytearray()
    while received < requests:
        chunk = await reader.read(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        buf += chunk
        now = clock() if latencies is not None else 0.0
        pos = 0
        while len(buf) - pos >= 4:
            length = int.from_bytes(buf[pos + 1:pos + 4], "big")
            if len(buf) - pos < length:
                break
            if received % check_every == 0:
                check(bytes(buf[pos:pos + length]))
            if latencies is not None and not buf[pos + 4] & 0x80:  # an answer: hop-by-hop id = number + 10
                latencies.append(now - sent_at[int.from_bytes(buf[pos + 12:pos + 16], "big") - 10])
            pos += length
            received += 1
        del buf[:pos]
        room = min(requests - sent, window - (sent - received))
        if room >= batch or (room > 0 and sent - received < batch):
            send(room)
    elapsed = clock() - started
    writer.close()
    return requests / elapsed


__all__ = ["run_client"]


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0-100) of `values`, nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]
