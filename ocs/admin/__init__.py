"""Admin HTTP port: FastAPI under uvicorn in the daemon's loop (/metrics, /healthz, /readyz, /api/v1/...)."""

from ocs.admin.server import AdminServer, build_app, start_admin

__all__ = ["AdminServer", "build_app", "start_admin"]
