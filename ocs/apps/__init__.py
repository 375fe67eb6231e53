"""Applications: decisions from typed requests to answers, and the one dispatch table they register in."""

from ocs.apps.dispatch import Context, DiameterApplication, Dispatch, Handler, Route

__all__ = ["Context", "DiameterApplication", "Dispatch", "Handler", "Route"]
