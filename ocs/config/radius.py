"""`[radius]`: the RADIUS listeners, the clients (NASes: Mikrotik routers) and the hotspot's behaviour."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from ocs.config.table import ConfigError, Table, is_hostport

MESSAGE_AUTHENTICATOR_POLICIES = ("require", "accept")
ON_EXHAUSTED = ("disconnect", "throttle")


@dataclass(frozen=True, slots=True)
class RadiusClientConfig:
    address: str  # an IP address or a CIDR the requests come from
    secret: str = field(repr=False)
    name: str = ""  # defaults to the address
    coa_port: int = 3799  # RFC 5176 §2.3 (RouterOS's old default was 1700: set it explicitly there)
    # RFC 3579 §3.2 / BlastRADIUS: "require" drops an Access-Request without a valid Message-Authenticator.
    # RouterOS hotspots send none, so "accept" is the default.
    message_authenticator: str = "accept"


@dataclass(frozen=True, slots=True)
class RadiusConfig:
    enabled: bool = False
    auth_listen: str = "127.0.0.1:1812"  # RFC 2865 §3
    acct_listen: str = "127.0.0.1:1813"  # RFC 2866 §3
    interim_interval: int = 300  # Acct-Interim-Interval sent in Access-Accept (seconds)
    duplicate_window: float = 5.0  # seconds a reply is kept for retransmissions (RFC 5080 §2.2.2)
    on_exhausted: str = "disconnect"  # or "throttle": CoA-Request with throttle_rate_limit
    throttle_rate_limit: str = "64k/64k"  # Mikrotik-Rate-Limit sent by the throttle CoA
    coa_timeout: float = 2.0  # seconds before a Disconnect/CoA request is sent again
    coa_retries: int = 3  # sends after the first before the outcome is recorded as failed
    reap_interval: float = 30.0  # seconds between passes of the session reaper
    voucher_length: int = 10  # characters of a generated voucher code
    clients: tuple[RadiusClientConfig, ...] = ()


def _parse_client(t: Table) -> RadiusClientConfig:
    address = t.string("address")
    try:
        ipaddress.ip_network(address, strict=False)
    except ValueError:
        raise ConfigError(f"{t.key('address')}: must be an IP address or a CIDR, got {address!r}") from None
    secret = t.string("secret")
    coa_port = t.integer("coa_port", 3799, minimum=1)
    if coa_port > 65535:
        raise ConfigError(f"{t.key('coa_port')}: must be a port number, got {coa_port}")
    client = RadiusClientConfig(address=address, secret=secret, name=t.string("name", address),
                                coa_port=coa_port,
                                message_authenticator=t.choice("message_authenticator",
                                                               MESSAGE_AUTHENTICATOR_POLICIES, "accept"))
    t.finish()
    return client


def parse_radius(t: Table) -> RadiusConfig:
    d = RadiusConfig()
    clients = []
    seen: dict[str, str] = {}
    for ct in t.tables("clients"):
        c = _parse_client(ct)
        net = str(ipaddress.ip_network(c.address, strict=False))
        if net in seen:
            raise ConfigError(f"{ct.key('address')}: must be unique, got {c.address!r} as in {seen[net]}")
        seen[net] = ct.key("address")
        clients.append(c)
    radius = RadiusConfig(
        enabled=t.boolean("enabled", d.enabled),
        auth_listen=t.hostport("auth_listen", d.auth_listen),
        acct_listen=t.hostport("acct_listen", d.acct_listen),
        interim_interval=t.integer("interim_interval", d.interim_interval, minimum=60),
        duplicate_window=t.number("duplicate_window", d.duplicate_window, positive=True),
        on_exhausted=t.choice("on_exhausted", ON_EXHAUSTED, d.on_exhausted),
        throttle_rate_limit=t.string("throttle_rate_limit", d.throttle_rate_limit),
        coa_timeout=t.number("coa_timeout", d.coa_timeout, positive=True),
        coa_retries=t.integer("coa_retries", d.coa_retries, minimum=0),
        reap_interval=t.number("reap_interval", d.reap_interval, positive=True),
        voucher_length=t.integer("voucher_length", d.voucher_length, minimum=6),
        clients=tuple(clients),
    )
    if radius.enabled and not radius.clients:
        raise ConfigError(f"{t.key('clients')}: [radius] enabled needs at least one [[radius.clients]]")
    assert is_hostport(radius.auth_listen)
    t.finish()
    return radius


__all__ = ["RadiusClientConfig", "RadiusConfig", "parse_radius"]
