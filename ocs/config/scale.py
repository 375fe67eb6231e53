"""`[daemon]`: how many worker processes serve one host, and who runs the background work (issue 19)."""

from __future__ import annotations

from dataclasses import dataclass

from ocs.config.table import ConfigError, Table

MAX_WORKERS = 64


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    # Worker processes (`ocsd run --workers N` overrides). Above 1 a supervisor starts them; they share the
    # Diameter, RADIUS and admin ports with SO_REUSEPORT (the kernel spreads connections and datagrams).
    workers: int = 1
    # Run the ledger writer and housekeeping only while holding a lease in Redis (exactly one process at a time
    # among all workers and hosts sharing the Redis). None: only when workers > 1.
    housekeeping_lease: bool | None = None
    # Seconds the lease lasts without renewal: a dead holder is replaced after at most this long.
    lease_ttl: float = 10.0
    # A worker that dies is started again (after this many seconds); 0: the supervisor stops all.
    restart_delay: float = 1.0


def parse_daemon(t: Table) -> DaemonConfig:
    d = DaemonConfig()
    workers = t.integer("workers", d.workers, minimum=1)
    if workers > MAX_WORKERS:
        raise ConfigError(f"{t.key('workers')}: at most {MAX_WORKERS}, got {workers}")
    lease = t.boolean("housekeeping_lease", False) if "housekeeping_lease" in t else None
    config = DaemonConfig(workers=workers, housekeeping_lease=lease,
                          lease_ttl=t.number("lease_ttl", d.lease_ttl, minimum=1.0),
                          restart_delay=t.number("restart_delay", d.restart_delay, minimum=0.0))
    t.finish()
    return config


__all__ = ["DaemonConfig", "parse_daemon"]
