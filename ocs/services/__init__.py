"""Services: the operations the CLI, the protocol apps and the admin port share."""

from ocs.services.charging import ChargingService

__all__ = ["ChargingService"]
