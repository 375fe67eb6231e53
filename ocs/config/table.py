"""Typed reading of one TOML table for the configuration file: every mistake names its full key.

A `Table` hands out typed values (`string`, `number`, `integer`, `choice`, `str_list`, ...), names the key in
every error (`diameter.peers[1].connect: ...`), and at the end (`finish`) refuses any key nobody asked for, so
typos never pass silently. Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from typing import TypeVar

T = TypeVar("T")


class ConfigError(Exception):
    """A configuration mistake; the message starts with the full key, e.g. `node.origin_host: is required`."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class _Required:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED = _Required()


def split_hostport(value: str) -> tuple[str, int]:
    """"host:port" or "[v6]:port" to (host, port); raises ValueError when malformed."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ValueError(value)
    if host.startswith("["):
        if not host.endswith("]"):
            raise ValueError(value)
        host = host[1:-1]
        ipaddress.IPv6Address(host)
    elif ":" in host:
        raise ValueError(value)  # an IPv6 address needs brackets
    number = int(port)
    if number > 65535:
        raise ValueError(value)
    return host, number


class Table:
    """One TOML table being read; `path` is its dotted name ("diameter", "diameter.peers[0]")."""

    def __init__(self, mapping: object, path: str) -> None:
        if not isinstance(mapping, Mapping):
            raise ConfigError(f"{path}: must be a table, got {mapping!r}")
        self._values: Mapping[str, object] = mapping
        self._path = path
        self._seen: set[str] = set()

    def key(self, name: str) -> str:
        return f"{self._path}.{name}" if self._path else name

    def __contains__(self, name: str) -> bool:
        return name in self._values

    def _get(self, name: str, default: object) -> object:
        self._seen.add(name)
        if name in self._values:
            return self._values[name]
        if default is REQUIRED:
            raise ConfigError(f"{self.key(name)}: is required")
        return default

    def _check(self, name: str, default: T | _Required, ok: Callable[[object], bool], want: str) -> T:
        value = self._get(name, default)
        if value is default:
            return value  # type: ignore[return-value]
        if not ok(value):
            raise ConfigError(f"{self.key(name)}: must be {want}, got {value!r}")
        return value  # type: ignore[return-value]

    def string(self, name: str, default: str | _Required = REQUIRED, *, empty: bool = False) -> str:
        want = "a string" if empty else "a non-empty string"
        return self._check(name, default, lambda v: isinstance(v, str) and (empty or v != ""), want)

    def boolean(self, name: str, default: bool) -> bool:
        return self._check(name, default, lambda v: isinstance(v, bool), "true or false")

    def optional_str(self, name: str) -> str | None:
        if name not in self._values:
            self._seen.add(name)
            return None
        return self.string(name)

    def integer(self, name: str, default: int | _Required = REQUIRED, *, minimum: int | None = None) -> int:
        want = "an integer" if minimum is None else f"an integer >= {minimum}"
        return self._check(name, default,
                           lambda v: type(v) is int and (minimum is None or v >= minimum), want)

    def number(self, name: str, default: float | _Required = REQUIRED, *, minimum: float | None = None,
               positive: bool = False) -> float:
        def ok(v: object) -> bool:
            if type(v) not in (int, float):
                return False
            x = float(v)  # type: ignore[arg-type]
            return x == x and (minimum is None or x >= minimum) and (not positive or x > 0)

        want = "a number" + (f" >= {minimum:g}" if minimum is not None else "") + (" > 0" if positive else "")
        return float(self._check(name, default, ok, want))

    def choice(self, name: str, choices: tuple[str, ...], default: str | _Required = REQUIRED) -> str:
        return self._check(name, default, lambda v: v in choices, "one of " + ", ".join(choices))

    def str_list(self, name: str, default: tuple[str, ...], *,
                 each: Callable[[str], bool] = lambda s: s != "",
                 want: str = "a non-empty string") -> tuple[str, ...]:
        value = self._get(name, default)
        if value is default:
            return default
        if not isinstance(value, list):
            raise ConfigError(f"{self.key(name)}: must be a list, got {value!r}")
        for i, item in enumerate(value):
            if not isinstance(item, str) or not each(item):
                raise ConfigError(f"{self.key(name)}[{i}]: must be {want}, got {item!r}")
        return tuple(value)

    def hostport(self, name: str, default: str | _Required = REQUIRED) -> str:
        return self._check(name, default, is_hostport, 'a "host:port" string')

    def optional_hostport(self, name: str) -> str | None:
        if name not in self._values:
            self._seen.add(name)
            return None
        return self.hostport(name)

    def table(self, name: str) -> Table:
        return Table(self._get(name, {}), self.key(name))

    def tables(self, name: str) -> list[Table]:
        value = self._get(name, [])
        if not isinstance(value, list):
            raise ConfigError(f"{self.key(name)}: must be an array of tables, got {value!r}")
        return [Table(item, f"{self.key(name)}[{i}]") for i, item in enumerate(value)]

    def finish(self) -> None:
        """Refuse keys that no parser asked for (typos, keys of a later version)."""
        for name in self._values:
            if name not in self._seen:
                raise ConfigError(f"{self.key(name)}: unknown key")


def is_hostport(value: object) -> bool:
    if not isinstance(value, str):
        return False
    try:
        split_hostport(value)
    except ValueError:
        return False
    return True


def is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


__all__ = ["REQUIRED", "ConfigError", "Table", "is_hostport", "is_ip", "split_hostport"]
