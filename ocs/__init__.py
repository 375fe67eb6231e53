"""ocsd: online charging system and HSS (Diameter Gy/Gx/S6a, RADIUS) on asyncio, Redis and PostgreSQL."""

__version__ = "0.1.0"

__all__ = ["__version__"]
