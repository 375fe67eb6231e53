"""asyncio at the edge: sockets and timers around the sans-IO protocol cores."""
