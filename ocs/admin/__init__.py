"""Admin HTTP port: /metrics, /healthz and token-protected management routes."""

from ocs.admin.server import Request, Response, Router, default_router, start_admin

__all__ = ["Request", "Response", "Router", "default_router", "start_admin"]
