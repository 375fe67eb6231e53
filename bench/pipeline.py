"""A pipelining Diameter client for the benchmarks: one TCP connection, up to `window` requests in flight.

Requests are prepared messages (`templates`, used in turn) whose hop-by-hop and end-to-end ids are set per
request, so the client spends its time on the socket, not on encoding. Every answer is framed; every
`check_every`-th one is handed to `check` (e.g. to assert its Result-Code) so a benchmark cannot count errors.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence


async def run_client(port: int, cer: bytes, templates: Sequence[bytes], requests: int, window: int,
                     check: Callable[[bytes], None] = lambda answer: None, check_every: int = 997) -> float:
    """Requests per second over one connection to 127.0.0.1:`port` after the CER/CEA exchange."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(cer)
    head = await reader.readexactly(4)
    await reader.readexactly(int.from_bytes(head[1:4], "big") - 4)
    parts_of = [(t[:12], t[20:]) for t in templates]
    batch = 64
    sent = received = 0
    started = time.perf_counter()

    def send(n: int) -> None:
        nonlocal sent
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
        pos = 0
        while len(buf) - pos >= 4:
            length = int.from_bytes(buf[pos + 1:pos + 4], "big")
            if len(buf) - pos < length:
                break
            if received % check_every == 0:
                check(bytes(buf[pos:pos + length]))
            pos += length
            received += 1
        del buf[:pos]
        room = min(requests - sent, window - (sent - received))
        if room >= batch or (room > 0 and sent - received < batch):
            send(room)
    elapsed = time.perf_counter() - started
    writer.close()
    return requests / elapsed


__all__ = ["run_client"]
