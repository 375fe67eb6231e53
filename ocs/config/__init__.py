"""The configuration file: TOML in, frozen dataclasses out, every mistake reported with its full key.

Theory of operation
-------------------
Each section is a frozen dataclass and a `_parse_<section>` function that reads it through a `Table`
(`ocs.config.table`), which names the full key in every error and refuses keys nobody asked for. Defaults
live in one place: the dataclass fields. Adding a section is: a dataclass, a parse function, a field on
`Config` and a line in `parse_config`; a large section (an application's) keeps its dataclass and parse
function in a module of its own in this package (`ocs/config/<section>.py`).

Pure: no I/O beyond reading the file in `load_config`; no asyncio, redis, asyncpg, structlog or click.
"""

from __future__ import annotations

import sys
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ocs.charging.currencies import MINOR_UNITS
from ocs.config.gx import GxConfig, parse_gx
from ocs.config.gy import GyConfig, parse_gy
from ocs.config.payments import NotifyConfig, PaymentsConfig, PortalConfig, parse_notify, parse_payments, parse_portal
from ocs.config.radius import RadiusConfig, parse_radius
from ocs.config.scale import DaemonConfig, parse_daemon
from ocs.config.sms import SmsConfig, parse_sms
from ocs.config.table import ConfigError, Table, is_hostport, is_ip, split_hostport

APPLICATIONS = frozenset({"gy", "gx", "s6a"})
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("json", "console", "auto")
MIN_WATCHDOG_INTERVAL = 6.0  # RFC 3539 §3.4.1: Tw must not be set below 6 seconds


# --- sections -----------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class NodeConfig:
    origin_host: str
    origin_realm: str
    product_name: str = "ocsd"
    vendor_id: int = 0
    host_ip_addresses: tuple[str, ...] = ("127.0.0.1",)


@dataclass(frozen=True, slots=True)
class DiameterPeerConfig:
    origin_host: str
    realm: str | None = None
    connect: str | None = None  # "host:port" to connect out to; None: the peer connects to us
    relay: bool = False  # a relay (DRA): its requests may carry other Origin-Hosts/Realms than its CER's
    applications: tuple[str, ...] | None = None  # names from APPLICATIONS it may use; None: any we serve


@dataclass(frozen=True, slots=True)
class DiameterConfig:
    listen: tuple[str, ...] = ("127.0.0.1:3868",)
    watchdog_interval: float = 30.0  # RFC 3539 Tw
    in_flight_limit: int = 1000
    request_timeout: float = 10.0
    # Write backpressure (octets): stop reading a peer whose unsent answers pass the high mark, resume below the
    # low one.
    write_buffer_high: int = 1 << 20
    write_buffer_low: int = 1 << 18
    max_connections: int = 1024          # transport connections at once
    max_pending_connections: int = 64    # inbound connections whose CER is not accepted yet
    max_cer_size: int = 4096             # largest frame before the CER is accepted
    applications: tuple[str, ...] = ()
    dictionaries: str | None = None  # extra dictionary directory, besides the shipped one
    peers: tuple[DiameterPeerConfig, ...] = ()


@dataclass(frozen=True, slots=True)
class RedisConfig:
    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "ocsd:"
    # Key layout for Redis Cluster: per-slot ledger streams and indexes (see ocs/store/redis_client.py).
    cluster: bool = False
    timeout: float = 1.0  # seconds a Redis call may take before the request gets a transient answer
    # issue 19: more Cluster seed nodes ("host:port") besides the url's; Sentinel; WAIT after money scripts
    seeds: tuple[str, ...] = ()
    sentinels: tuple[str, ...] = ()
    sentinel_master: str = "mymaster"
    wait_replicas: int = 0
    wait_timeout: int = 100  # milliseconds


@dataclass(frozen=True, slots=True)
class PostgresConfig:
    dsn: str = "postgresql://postgres@127.0.0.1:5432/ocsd"
    timeout: float = 2.0  # seconds a PostgreSQL call may take (connect, acquire, query) on the request path


@dataclass(frozen=True, slots=True)
class AdminConfig:
    listen: str = "127.0.0.1:9100"
    token: str | None = field(default=None, repr=False)  # bearer token for all routes but /metrics, /healthz
    # /readyz answers 503 when the oldest ledger entry not yet in PostgreSQL is older than this (seconds)
    ledger_lag_limit: float = 60.0
    # API requests worked on at once; more wait their turn (ocs/admin/fairness.py: Diameter keeps the loop)
    max_in_flight: int = 16


@dataclass(frozen=True, slots=True)
class LogConfig:
    level: str = "info"
    format: str = "auto"
    # Repeats of one event from one source within this many seconds are counted, then logged as one summary.
    rate_limit_interval: float = 10.0
    trace: bool = False  # a line per Diameter request and answer (AVPs too at level "debug"), secrets redacted


@dataclass(frozen=True, slots=True)
class KeysConfig:
    # AES-256-GCM key sealing K and OPc at rest (ocs/sealing.py); made by `ocsd keys generate FILE`.
    file: str | None = None
    # Use the built-in, public demo key instead of a key file: for the loopback demo and tests only.
    demo: bool = False


@dataclass(frozen=True, slots=True)
class AucConfig:
    # TS 33.102 Annex C.1.1: SQN = SEQ || IND; IND length in bits (0..10).
    ind_bits: int = 5
    # SEQ values reserved in PostgreSQL at a time; Redis hands them out (see 001_subscribers.sql).
    seq_block: int = 1000
    # Most vectors one AIR may ask for (TS 29.272 §7.3.15 allows up to 5 per AIR).
    max_vectors: int = 5
    # PLMNs allowed as Visited-PLMN-Id, "MCCMNC" (5 or 6 digits). Empty: any PLMN.
    home_plmns: tuple[str, ...] = ()
    roaming_plmns: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ChargingConfig:
    currency: str = "USD"  # ISO 4217 code of new accounts
    reap_interval: float = 60.0  # seconds between passes of the stale-reservation reaper
    reservation_max_age: float = 3600.0  # a reservation untouched this long is released
    expire_interval: float = 60.0  # seconds between passes expiring bundles


@dataclass(frozen=True, slots=True)
class Config:
    node: NodeConfig
    diameter: DiameterConfig = field(default_factory=DiameterConfig)
    redis: RedisConfig = field(default_factory=RedisConfig)
    postgres: PostgresConfig = field(default_factory=PostgresConfig)
    admin: AdminConfig = field(default_factory=AdminConfig)
    log: LogConfig = field(default_factory=LogConfig)
    keys: KeysConfig = field(default_factory=KeysConfig)
    auc: AucConfig = field(default_factory=AucConfig)
    charging: ChargingConfig = field(default_factory=ChargingConfig)
    gy: GyConfig = field(default_factory=GyConfig)
    gx: GxConfig = field(default_factory=GxConfig)
    radius: RadiusConfig = field(default_factory=RadiusConfig)
    sms: SmsConfig = field(default_factory=SmsConfig)
    payments: PaymentsConfig = field(default_factory=PaymentsConfig)  # issue 17 (ocs/config/payments.py)
    portal: PortalConfig = field(default_factory=PortalConfig)
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    daemon: DaemonConfig = field(default_factory=DaemonConfig)
    # Both [redis] and [postgres] are in the file: the daemon then runs the ledger writer and housekeeping
    # whatever applications are enabled (an application that needs them opens them with their defaults).
    stores_configured: bool = False


# --- sections, one function each ----------------------------------------------------------------------------


def _parse_node(t: Table) -> NodeConfig:
    d = NodeConfig("", "")  # the defaults (slots dataclasses have no class-level defaults to read)
    node = NodeConfig(
        origin_host=t.string("origin_host"),
        origin_realm=t.string("origin_realm"),
        product_name=t.string("product_name", d.product_name),
        vendor_id=t.integer("vendor_id", d.vendor_id, minimum=0),
        host_ip_addresses=t.str_list("host_ip_addresses", d.host_ip_addresses, each=is_ip,
                                     want="an IP address"),
    )
    if not node.host_ip_addresses:
        raise ConfigError(f"{t.key('host_ip_addresses')}: must name at least one address")  # RFC 6733 §5.3.1
    t.finish()
    return node


def _parse_peer(t: Table) -> DiameterPeerConfig:
    peer = DiameterPeerConfig(
        origin_host=t.string("origin_host"),
        realm=t.optional_str("realm"),
        connect=t.optional_hostport("connect"),
        relay=t.boolean("relay", False),
        applications=(t.str_list("applications", (), each=lambda s: s in APPLICATIONS,
                                 want="one of " + ", ".join(sorted(APPLICATIONS)))
                      if "applications" in t else None),
    )
    if peer.applications is not None and not peer.applications:
        raise ConfigError(f"{t.key('applications')}: must name at least one application (or be left out)")
    t.finish()
    return peer


def _parse_diameter(t: Table, base_dir: Path | None) -> DiameterConfig:
    d = DiameterConfig()
    listen = t.str_list("listen", d.listen, each=is_hostport, want='a "host:port" string')
    watchdog_interval = t.number("watchdog_interval", d.watchdog_interval, minimum=MIN_WATCHDOG_INTERVAL)
    in_flight_limit = t.integer("in_flight_limit", d.in_flight_limit, minimum=1)
    request_timeout = t.number("request_timeout", d.request_timeout, positive=True)
    write_buffer_high = t.integer("write_buffer_high", d.write_buffer_high, minimum=1)
    write_buffer_low = t.integer("write_buffer_low", d.write_buffer_low, minimum=0)
    if write_buffer_low > write_buffer_high:
        raise ConfigError(f"{t.key('write_buffer_low')}: must be at most write_buffer_high ({write_buffer_high}), "
                          f"got {write_buffer_low}")
    max_connections = t.integer("max_connections", d.max_connections, minimum=1)
    max_pending_connections = t.integer("max_pending_connections", d.max_pending_connections, minimum=1)
    max_cer_size = t.integer("max_cer_size", d.max_cer_size, minimum=256)
    applications = t.str_list("applications", d.applications, each=lambda s: s in APPLICATIONS,
                              want="one of " + ", ".join(sorted(APPLICATIONS)))
    if len(set(applications)) != len(applications):
        raise ConfigError(f"{t.key('applications')}: must name each application once, "
                          f"got {list(applications)!r}")
    dictionaries = t.optional_str("dictionaries")
    if dictionaries is not None and base_dir is not None:
        dictionaries = str(base_dir / dictionaries)  # relative to the config file
    peers = []
    seen: dict[str, str] = {}
    for peer_table in t.tables("peers"):
        peer = _parse_peer(peer_table)
        if peer.origin_host in seen:
            raise ConfigError(f"{peer_table.key('origin_host')}: must be unique, got {peer.origin_host!r} "
                              f"as in {seen[peer.origin_host]}")
        seen[peer.origin_host] = peer_table.key("origin_host")
        peers.append(peer)
    t.finish()
    return DiameterConfig(listen=listen, watchdog_interval=watchdog_interval, in_flight_limit=in_flight_limit,
                          request_timeout=request_timeout, write_buffer_high=write_buffer_high,
                          write_buffer_low=write_buffer_low, max_connections=max_connections,
                          max_pending_connections=max_pending_connections, max_cer_size=max_cer_size,
                          applications=applications,
                          dictionaries=dictionaries, peers=tuple(peers))


def _parse_redis(t: Table) -> RedisConfig:
    d = RedisConfig()
    url = t.string("url", d.url)
    if not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError(f"{t.key('url')}: must be a redis://, rediss:// or unix:// URL, got {url!r}")
    redis = RedisConfig(url=url, key_prefix=t.string("key_prefix", d.key_prefix, empty=True),
                        cluster=t.boolean("cluster", d.cluster), timeout=t.number("timeout", d.timeout, positive=True),
                        seeds=t.str_list("seeds", d.seeds, each=is_hostport, want='"host:port"'),
                        sentinels=t.str_list("sentinels", d.sentinels, each=is_hostport, want='"host:port"'),
                        sentinel_master=t.string("sentinel_master", d.sentinel_master),
                        wait_replicas=t.integer("wait_replicas", d.wait_replicas, minimum=0),
                        wait_timeout=t.integer("wait_timeout", d.wait_timeout, minimum=1))
    t.finish()
    return redis


def _parse_postgres(t: Table) -> PostgresConfig:
    dsn = t.string("dsn", PostgresConfig().dsn)
    if not dsn.startswith(("postgresql://", "postgres://")):
        raise ConfigError(f"{t.key('dsn')}: must be a postgresql:// URL, got {dsn!r}")
    timeout = t.number("timeout", PostgresConfig().timeout, positive=True)
    t.finish()
    return PostgresConfig(dsn=dsn, timeout=timeout)


def _parse_admin(t: Table) -> AdminConfig:
    admin = AdminConfig(listen=t.hostport("listen", AdminConfig().listen), token=t.optional_str("token"),
                        ledger_lag_limit=t.number("ledger_lag_limit", AdminConfig().ledger_lag_limit, positive=True),
                        max_in_flight=t.integer("max_in_flight", AdminConfig().max_in_flight, minimum=1))
    t.finish()
    return admin


def _parse_log(t: Table) -> LogConfig:
    d = LogConfig()
    log = LogConfig(level=t.choice("level", LOG_LEVELS, d.level),
                    format=t.choice("format", LOG_FORMATS, d.format),
                    rate_limit_interval=t.number("rate_limit_interval", d.rate_limit_interval, positive=True),
                    trace=t.boolean("trace", d.trace))
    t.finish()
    return log


def _parse_keys(t: Table, base_dir: Path | None) -> KeysConfig:
    file = t.optional_str("file")
    if file is not None and base_dir is not None:
        file = str(base_dir / file)
    demo = t.boolean("demo", False)
    t.finish()
    return KeysConfig(file=file, demo=demo)


def _is_plmn(value: str) -> bool:
    return value.isdigit() and len(value) in (5, 6)


def _parse_auc(t: Table) -> AucConfig:
    d = AucConfig()
    ind_bits = t.integer("ind_bits", d.ind_bits, minimum=0)
    if ind_bits > 10:
        raise ConfigError(f"{t.key('ind_bits')}: must be at most 10, got {ind_bits}")
    max_vectors = t.integer("max_vectors", d.max_vectors, minimum=1)
    auc = AucConfig(
        ind_bits=ind_bits,
        seq_block=t.integer("seq_block", d.seq_block, minimum=1),
        max_vectors=max_vectors,
        home_plmns=t.str_list("home_plmns", d.home_plmns, each=_is_plmn, want='an "MCCMNC" string of 5 or 6 digits'),
        roaming_plmns=t.str_list("roaming_plmns", d.roaming_plmns, each=_is_plmn,
                                 want='an "MCCMNC" string of 5 or 6 digits'),
    )
    t.finish()
    return auc


def _parse_charging(t: Table) -> ChargingConfig:
    d = ChargingConfig()
    currency = t.string("currency", d.currency)
    if currency not in MINOR_UNITS:
        raise ConfigError(f"{t.key('currency')}: must be an ISO 4217 code like \"USD\", got {currency!r}")
    charging = ChargingConfig(
        currency=currency,
        reap_interval=t.number("reap_interval", d.reap_interval, positive=True),
        reservation_max_age=t.number("reservation_max_age", d.reservation_max_age, positive=True),
        expire_interval=t.number("expire_interval", d.expire_interval, positive=True),
    )
    t.finish()
    return charging


def parse_config(mapping: Mapping[str, object], base_dir: Path | None = None) -> Config:
    """A `Config` from a parsed TOML document; relative paths are taken from `base_dir` when given."""
    root = Table(mapping, "")
    config = Config(
        node=_parse_node(root.table("node")),
        diameter=_parse_diameter(root.table("diameter"), base_dir),
        redis=_parse_redis(root.table("redis")),
        postgres=_parse_postgres(root.table("postgres")),
        admin=_parse_admin(root.table("admin")),
        log=_parse_log(root.table("log")),
        keys=_parse_keys(root.table("keys"), base_dir),
        auc=_parse_auc(root.table("auc")),
        charging=_parse_charging(root.table("charging")),
        gy=parse_gy(root.table("gy")),
        gx=parse_gx(root.table("gx")),
        radius=parse_radius(root.table("radius")),
        sms=parse_sms(root.table("sms")),
        payments=parse_payments(root.table("payments")),
        portal=parse_portal(root.table("portal"), base_dir),
        notify=parse_notify(root.table("notify")),
        daemon=parse_daemon(root.table("daemon")),
        stores_configured="redis" in mapping and "postgres" in mapping,
    )
    root.finish()
    return config


def data_dirs(relative: str) -> list[Path]:
    """Where the shipped data `relative` ("dictionaries/diameter", "conf") may be, most specific first: the
    source checkout (editable installs do not copy data files), then <prefix>/share/ocsd as installed by
    pip (pyproject [tool.setuptools.data-files]), then the usual system prefixes."""
    checkout = Path(__file__).resolve().parents[2] / relative
    prefixes = [Path(sys.prefix), Path(sys.base_prefix), Path("/usr/local"), Path("/usr")]
    return [checkout, *dict.fromkeys(p / "share" / "ocsd" / relative for p in prefixes)]


def find_data_dir(relative: str) -> Path | None:
    """The first existing directory of `data_dirs(relative)`, or None."""
    return next((d for d in data_dirs(relative) if d.is_dir()), None)


def load_config(path: str | Path) -> Config:
    """Read and check a TOML configuration file; raises `ConfigError` naming the file or the key."""
    path = Path(path)
    try:
        with path.open("rb") as f:
            document = tomllib.load(f)
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{path}: invalid TOML: {e}") from e
    return parse_config(document, base_dir=path.parent)


__all__ = [
    "AdminConfig", "AucConfig", "ChargingConfig", "Config", "ConfigError", "DiameterConfig", "DiameterPeerConfig",
    "KeysConfig", "LogConfig", "NodeConfig",
    "PostgresConfig", "RedisConfig", "data_dirs", "find_data_dir", "load_config", "parse_config",
    "split_hostport",
]
