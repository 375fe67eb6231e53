"""Logging: structlog events with fields, JSON for machines or console for people, secrets redacted.

Standard-library log records (asyncio, redis, asyncpg) go through the same renderer, so a JSON deployment
writes one JSON object a line whatever the source. Everything is written to stderr (journald keeps it).
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Mapping
from typing import Any

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

# Keys whose values never reach a log line: subscriber keys and derived keys (TS 33.102/33.401), credentials.
REDACTED_KEYS = frozenset({"k", "opc", "op", "ck", "ik", "kasme", "secret", "password", "token"})
REDACTED = "***"

_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING, "error": logging.ERROR}


def _redact_value(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: REDACTED if isinstance(k, str) and k.lower() in REDACTED_KEYS else _redact_value(v)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_redact_value(v) for v in value)
    return value


def redact_secrets(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
    """structlog processor: replace the value of any secret-named key (also in nested dicts) with "***"."""
    for key in list(event_dict):
        if key.lower() in REDACTED_KEYS:
            event_dict[key] = REDACTED
        else:
            value = event_dict[key]
            if isinstance(value, Mapping | list | tuple):
                event_dict[key] = _redact_value(value)
    return event_dict


def use_console(fmt: str, stream: Any = None) -> bool:
    """Console rendering for fmt "console", or for "auto" when the stream (stderr) is a terminal."""
    if fmt == "console":
        return True
    if fmt == "json":
        return False
    stream = sys.stderr if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def configure_logging(level: str, fmt: str) -> None:
    """Configure structlog and the standard library's logging; `level` and `fmt` as in the [log] section."""
    if level not in _LEVELS:
        raise ValueError(f"unknown log level {level!r}")
    if fmt not in ("json", "console", "auto"):
        raise ValueError(f"unknown log format {fmt!r}")
    numeric = _LEVELS[level]
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]
    renderer: Processor
    if use_console(fmt):
        renderer = structlog.dev.ConsoleRenderer()
    else:
        renderer = structlog.processors.JSONRenderer()
        # tracebacks as data, never with frame locals: a local may hold a subscriber key
        shared.append(structlog.processors.ExceptionRenderer(
            structlog.tracebacks.ExceptionDictTransformer(show_locals=False)))

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=True,
    )

    def drop_internal(_logger: WrappedLogger, _method: str, event_dict: EventDict) -> EventDict:
        event_dict.pop("_record", None)
        event_dict.pop("_from_structlog", None)
        return event_dict

    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.ExtraAdder(), *shared],
        processors=[drop_internal, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(numeric)


__all__ = ["REDACTED", "REDACTED_KEYS", "configure_logging", "redact_secrets", "use_console"]
