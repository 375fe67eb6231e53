"""Applications: glue from decoded requests to the store and back to answers."""

from ocs.apps.registry import Handler, Registry, Route

__all__ = ["Handler", "Registry", "Route"]
