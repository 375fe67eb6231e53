"""RADIUS clients (NASes) by source address: exact addresses first, then the longest matching CIDR.

RFC 2865 §3: a server must silently discard a request from a client it has no shared secret for; the table
answers None for those and the transport drops and counts them.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field

REQUIRE, ACCEPT = "require", "accept"  # Message-Authenticator policy (RFC 3579 §3.2, BlastRADIUS advice)


@dataclass(frozen=True, slots=True)
class RadiusClient:
    address: str  # an address or a CIDR, as configured
    name: str
    secret: bytes = field(repr=False)
    coa_port: int = 3799  # RFC 5176 §2.3
    message_authenticator: str = ACCEPT


class ClientTable:
    def __init__(self, clients: Iterable[RadiusClient]) -> None:
        self._exact: dict[str, RadiusClient] = {}
        self._networks: list[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, RadiusClient]] = []
        for c in clients:
            net = ipaddress.ip_network(c.address, strict=False)
            if net.num_addresses == 1:
                self._exact[str(net.network_address)] = c
            else:
                self._networks.append((net, c))
        self._networks.sort(key=lambda nc: -nc[0].prefixlen)  # longest prefix first
        self._cache: dict[str, RadiusClient | None] = {}

    def lookup(self, host: str) -> RadiusClient | None:
        found = self._exact.get(host)
        if found is not None or not self._networks:
            return found
        if host in self._cache:
            return self._cache[host]
        try:
            addr = ipaddress.ip_address(host.split("%")[0])
        except ValueError:
            return None
        for net, client in self._networks:
            if addr.version == net.version and addr in net:
                found = client
                break
        if len(self._cache) < 65536:  # bounded: unknown sources cannot grow it without end
            self._cache[host] = found
        return found

    def __iter__(self):  # type: ignore[no-untyped-def]
        yield from self._exact.values()
        for _, c in self._networks:
            yield c


__all__ = ["ACCEPT", "REQUIRE", "ClientTable", "RadiusClient"]
