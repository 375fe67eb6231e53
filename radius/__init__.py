"""RADIUS: packet handling on pyrad, Mikrotik mapping, CoA/Disconnect client."""
