"""Prometheus metrics of the admin port (names `ocsd_admin_*`, in the daemon's registry ocs.metrics.REGISTRY):
every request by method, route template (a bounded set: the routes of the application) and status."""

from __future__ import annotations

from ocs.metrics import REGISTRY, Counts

admin_requests_total = Counts("ocsd_admin_requests_total",
                              "Admin HTTP requests answered, by method, route template and status",
                              ("method", "route", "status"))
admin_session_terminations_total = Counts("ocsd_admin_session_terminations_total",
                                          "Sessions the admin API asked to end, by application and outcome (the "
                                          "ASA's Result-Code, ack/nak/timeout of a Disconnect-Request, refused)",
                                          ("app", "outcome"))
REGISTRY.register(admin_requests_total)
REGISTRY.register(admin_session_terminations_total)

__all__ = ["admin_requests_total", "admin_session_terminations_total"]
