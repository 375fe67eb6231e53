"""Subscriber provisioning values: what an operator types or imports, checked before anything is stored.

Pure: the CLI, the CSV import and (later) the admin port build a `NewSubscriber` here, and every refusal is an
`InvalidSubscriber` naming the field, so a bad row is reported with its line and changes nothing.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from auc import opc as derive_opc
from auc import split_sqn

IMSI_RE = re.compile(r"^[0-9]{15}$")       # TS 23.003 §2.2: MCC (3) + MNC (2/3) + MSIN, 15 digits in all here
MSISDN_RE = re.compile(r"^[0-9]{5,15}$")   # ITU-T E.164: at most 15 digits, no '+'
# TS 23.003 §9.1: an APN network identifier is dot-separated labels of letters, digits and inner hyphens
APN_RE = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*$")
SQN_MAX = (1 << 48) - 1
STATUSES = ("active", "barred")
CSV_COLUMNS = ("imsi", "msisdn", "k", "opc", "op", "amf", "sqn", "apns", "status")


class InvalidSubscriber(ValueError):
    """One field is wrong: `field` names it (as the CLI option or CSV column), the message says why."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class SubscriberExists(Exception):
    """The IMSI or the MSISDN is already provisioned."""


class SubscriberNotFound(Exception):
    pass


@dataclass(frozen=True, slots=True)
class NewSubscriber:
    imsi: str
    msisdn: str
    k: bytes = b""
    opc: bytes = b""
    amf: bytes = b"\x80\x00"
    sqn: int = 0          # the last SQN the USIM accepted; the next vector's SEQ is above SEQ(sqn)
    apns: tuple[str, ...] = ("internet",)
    status: str = "active"

    def __repr__(self) -> str:  # never show K or OPc
        return f"NewSubscriber(imsi={self.imsi!r}, msisdn={self.msisdn!r}, apns={self.apns!r}, status={self.status!r})"

    def seq_floor(self, ind_bits: int) -> int:
        """TS 33.102 Annex C.1.1: the SEQ part of `sqn`; every SEQ the AuC hands out is above it."""
        return split_sqn(self.sqn, ind_bits)[0]


def _hex(field: str, value: str, octets: int) -> bytes:
    text = value.strip().removeprefix("0x").removeprefix("0X")
    try:
        raw = bytes.fromhex(text)
    except ValueError:
        raise InvalidSubscriber(field, "must be hexadecimal digits") from None
    if len(raw) != octets:
        raise InvalidSubscriber(field, f"must be {octets} octets ({2 * octets} hex digits), got {len(raw)}")
    return raw


def imsi(value: str) -> str:
    value = value.strip()
    if not IMSI_RE.match(value):
        raise InvalidSubscriber("imsi", f"must be 15 digits, got {value!r} ({len(value)} characters)")
    return value


def msisdn(value: str) -> str:
    value = value.strip().removeprefix("+")
    if not MSISDN_RE.match(value):
        raise InvalidSubscriber("msisdn", f"must be 5 to 15 digits, got {value!r}")
    return value


def new_subscriber(*, imsi_: str, msisdn_: str, k: str, opc: str | None = None, op: str | None = None,
                   amf: str | None = None, sqn: str | None = None, apns: Iterable[str] = (),
                   status: str | None = None) -> NewSubscriber:
    """Check and convert an operator's input; exactly one of `opc` and `op` (OPc = derived, TS 35.206 §4.1)."""
    key = _hex("k", k, 16)
    if (opc is None) == (op is None):
        raise InvalidSubscriber("opc", "give exactly one of OPc and OP")
    opc_value = _hex("opc", opc, 16) if opc is not None else derive_opc(key, _hex("op", op or "", 16))
    amf_value = _hex("amf", amf, 2) if amf else b"\x80\x00"
    sqn_value = 0
    if sqn:
        sqn_value = int.from_bytes(_hex("sqn", sqn.rjust(12, "0"), 6), "big")
    apn_list = tuple(dict.fromkeys(a.strip() for a in apns if a.strip())) or ("internet",)
    for apn in apn_list:
        if len(apn) > 100 or not APN_RE.match(apn):
            raise InvalidSubscriber("apn", f"{apn!r} is not an APN network identifier (TS 23.003 §9.1)")
    state = (status or "active").strip()
    if state not in STATUSES:
        raise InvalidSubscriber("status", f"must be one of {', '.join(STATUSES)}, got {state!r}")
    return NewSubscriber(imsi(imsi_), msisdn(msisdn_), key, opc_value, amf_value, sqn_value, apn_list, state)


def from_csv_row(row: Mapping[str, str | None]) -> NewSubscriber:
    """A CSV row with the columns of `CSV_COLUMNS` (apns separated by spaces or ';'; empty cells = defaults)."""
    def cell(name: str) -> str | None:
        value = row.get(name)
        return value.strip() if value and value.strip() else None

    return new_subscriber(imsi_=cell("imsi") or "", msisdn_=cell("msisdn") or "", k=cell("k") or "",
                          opc=cell("opc"), op=cell("op"), amf=cell("amf"), sqn=cell("sqn"),
                          apns=re.split(r"[;\s]+", cell("apns") or ""), status=cell("status"))


@dataclass(frozen=True, slots=True)
class BadRow:
    line: int
    error: str


def read_csv(lines: Iterable[str]) -> Iterator[tuple[int, NewSubscriber | BadRow]]:
    """(line number, subscriber or what is wrong with it) for each data row; the header names the columns."""
    reader = csv.DictReader(lines)
    missing = {"imsi", "msisdn", "k"} - set(reader.fieldnames or ())
    if missing:
        raise InvalidSubscriber("header", f"the CSV header lacks {', '.join(sorted(missing))} "
                                          f"(columns: {', '.join(CSV_COLUMNS)})")
    unknown = set(reader.fieldnames or ()) - set(CSV_COLUMNS)
    if unknown:
        raise InvalidSubscriber("header", f"unknown columns {', '.join(sorted(unknown))} "
                                          f"(columns: {', '.join(CSV_COLUMNS)})")
    for row in reader:
        line = reader.line_num
        if None in row:
            yield line, BadRow(line, "more cells than columns")
            continue
        try:
            yield line, from_csv_row(row)
        except InvalidSubscriber as e:
            yield line, BadRow(line, str(e))


__all__ = [
    "BadRow", "CSV_COLUMNS", "InvalidSubscriber", "NewSubscriber", "SubscriberExists", "SubscriberNotFound",
    "from_csv_row", "imsi", "msisdn", "new_subscriber", "read_csv",
]
