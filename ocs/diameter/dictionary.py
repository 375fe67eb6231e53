"""The Diameter dictionary: AVP and command definitions loaded from data files (dictionaries/diameter/*.toml).

The codec does not need a dictionary to split or rebuild messages (unknown AVPs round-trip byte-exact); the
dictionary is what turns an AVP into a typed value, builds AVPs by name, tells the base protocol which AVPs it
knows (5001 DIAMETER_AVP_UNSUPPORTED for an unknown AVP with the M bit, RFC 6733 §7.1.5) and which a request
must carry (5005 DIAMETER_MISSING_AVP, RFC 6733 §7.1.5).

File format (one file per specification; see dictionaries/diameter/base.toml)::

    source = "RFC 6733 §4.5"          # what the data was taken from
    vendor = 0                         # vendor of the AVPs in this file (10415 = 3GPP)
    flags = "M"                        # default flag rule: the M bit must be set

    [avps]
    Origin-Host = { code = 264, type = "DiameterIdentity" }
    Disconnect-Cause = { code = 273, type = "Enumerated", enum = { REBOOTING = 0, BUSY = 1 } }
    Proxy-Info = { code = 284, type = "Grouped", members = ["Proxy-Host", "Proxy-State"] }
    Some-Vendor-Avp = { code = 9, type = "Unsigned32", flags = "V" }

    [commands.Capabilities-Exchange]
    code = 257
    application = 0
    request = ["Origin-Host", ...]     # AVPs a request must carry ({...} in the CCF)
    answer = [...]
    single = [...]                     # AVPs a request carries at most once (5009, RFC 6733 §7.1.5)

A file may also list `single = [...]` at the top (AVPs at most once in every request: the base protocol's
Session-Id, Origin-Host, ...) and `[applications.<id>] mandatory = [...]` (re-used AVPs an application sends
with the M bit, whatever their defining specification says).
"""

from __future__ import annotations

import ipaddress
import tomllib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from ocs.diameter import avp as avps_
from ocs.diameter import typed
from ocs.diameter.avp import Avp
from ocs.diameter.codes import AVP_MANDATORY, AVP_PROTECTED, AVP_VENDOR, FLAG_PROXIABLE, FLAG_REQUEST
from ocs.diameter.message import Message

# RFC 6733 §4.2 basic and §4.3 derived AVP data formats, plus the ones later applications define:
# IPFilterRule (§4.3.1), QoSFilterRule (RFC 7155 §4.1.1 / RFC 4006).
INTEGER_TYPES = frozenset({"Integer32", "Integer64", "Unsigned32", "Unsigned64", "Enumerated"})
STRING_TYPES = frozenset({"UTF8String", "DiameterIdentity", "DiameterURI", "IPFilterRule", "QoSFilterRule"})
TYPES = INTEGER_TYPES | STRING_TYPES | frozenset(
    {"OctetString", "Float32", "Float64", "Grouped", "Address", "Time"}
)

Value = int | float | str | bytes | ipaddress.IPv4Address | ipaddress.IPv6Address | list["Node"]
Node = tuple[str, Value]  # (AVP name, or "code:vendor" when unknown; value)


class DictionaryError(ValueError):
    """A dictionary file is malformed; the message names the file and the entry."""


@dataclass(frozen=True, slots=True)
class AvpDef:
    code: int
    vendor_id: int
    name: str
    type: str
    mandatory: bool = True  # the M bit must be set when we send it
    protected: bool = False
    enum: Mapping[str, int] = field(default_factory=dict)
    members: tuple[str, ...] = ()

    @property
    def flags(self) -> int:
        return ((AVP_VENDOR if self.vendor_id else 0) | (AVP_MANDATORY if self.mandatory else 0)
                | (AVP_PROTECTED if self.protected else 0))

    def value(self, a: Avp) -> Value:
        """The typed value of `a`, read by this definition's type (raises DiameterError when malformed); the
        raw payload of a Grouped AVP (Dictionary.tree walks its members)."""
        read = typed.Spec(self).read
        return a.data if read is None else read(a)  # type: ignore[no-any-return]

    def make(self, value: object) -> Avp:
        """An AVP of this definition holding `value` (a name of `enum` is accepted for Enumerated; a Grouped
        value is a list of AVPs or a mapping of member values)."""
        s = typed.Spec(self)
        if s.write is not None:
            return Avp(self.code, self.flags, self.vendor_id, s.write(value))
        if isinstance(value, Iterable) and not isinstance(value, (bytes, str, Mapping)):
            return Avp(self.code, self.flags, self.vendor_id, avps_.encode_avps(value))  # type: ignore[arg-type]
        raise TypeError(f"{self.name}: a Grouped value is a list of AVPs")


@dataclass(frozen=True, slots=True)
class CommandDef:
    code: int
    application_id: int
    name: str
    request_required: tuple[str, ...] = ()
    answer_required: tuple[str, ...] = ()
    request_single: tuple[str, ...] = ()  # AVPs a request carries at most once (CCF without *; RFC 6733 §3.2)


class Dictionary:
    """AVPs by (code, vendor) and by name; commands by (code, application)."""

    def __init__(self, avps: Iterable[AvpDef] = (), commands: Iterable[CommandDef] = ()) -> None:
        self._by_code: dict[tuple[int, int], AvpDef] = {}
        self._by_name: dict[str, AvpDef] = {}
        self._commands: dict[tuple[int, int], CommandDef] = {}
        self._specs: dict[str, typed.Spec] = {}  # typed.spec: read/write plans by AVP name
        self.rules: dict[tuple[int, int], object] = {}  # validate.check_request: compiled rules by command
        self.app_mandatory: dict[int, frozenset[str]] = {}  # re-used AVPs an application sends with M set
        self.single: frozenset[str] = frozenset()  # AVPs at most once in every request (top-level `single`)
        self._views: dict[int, Dictionary] = {}
        for d in avps:
            self.add_avp(d)
        for c in commands:
            self.add_command(c)

    def add_avp(self, d: AvpDef) -> None:
        self._by_code[(d.code, d.vendor_id)] = d
        self._by_name[d.name] = d
        self._specs.clear()
        self.rules.clear()

    def add_command(self, c: CommandDef) -> None:
        self._commands[(c.code, c.application_id)] = c
        self.rules.clear()

    # --- lookups -------------------------------------------------------------------------------------------
    def find(self, code: int, vendor_id: int = 0) -> AvpDef | None:
        return self._by_code.get((code, vendor_id))

    def avp(self, name: str) -> AvpDef:
        try:
            return self._by_name[name]
        except KeyError:
            raise KeyError(f"no AVP named {name!r} in the dictionary") from None

    def command(self, code: int, application_id: int) -> CommandDef | None:
        return self._commands.get((code, application_id)) or self._commands.get((code, 0))

    def avps(self) -> Iterator[AvpDef]:
        return iter(self._by_code.values())

    def commands(self) -> Iterator[CommandDef]:
        return iter(self._commands.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def for_application(self, application_id: int) -> Dictionary:
        """This dictionary as `application_id` writes AVPs: those it re-uses from another specification with
        the M-bit it sets (e.g. TS 29.272 Table 7.3.1/2: the M-bit of a re-used AVP overrides the defining
        specification's), from `[applications.<id>] mandatory = [...]` in the dictionary files."""
        names = self.app_mandatory.get(application_id)
        if not names:
            return self
        view = self._views.get(application_id)
        if view is None:
            view = Dictionary([replace(d, mandatory=True) if d.name in names else d for d in self.avps()],
                              self.commands())
            view.app_mandatory, view.single = self.app_mandatory, self.single
            self._views[application_id] = view
        return view

    def command_named(self, name: str, application_id: int) -> CommandDef:
        for c in self._commands.values():
            if c.name == name and c.application_id == application_id:
                return c
        raise KeyError(f"no command {name!r} of application {application_id} in the dictionary")

    # --- typed messages (ocs.diameter.typed) ---------------------------------------------------------------
    def read(self, message: Message | Iterable[Avp]) -> typed.Group:
        """The AVPs of a message (or a list of AVPs) read by name: `d.read(air)["User-Name"]`."""
        avps = message.avps if isinstance(message, Message) else list(message)
        return typed.Group(self, avps)

    def build(self, values: typed.Values) -> list[Avp]:
        """AVPs from values by name: `d.build({"Result-Code": 2001, "Origin-Host": "hss.example"})`."""
        return typed.build(self, values)

    def answer(self, request: Message, values: typed.Values, *, error: bool = False) -> Message:
        """The answer to `request` (RFC 6733 §6.2 header rules) with AVPs built from `values`, in order."""
        return request.answer(typed.build(self, values), error=error)

    def request(self, command: str, application_id: int, values: typed.Values) -> Message:
        """A request of ours, R and P set (RFC 6733 §3); the node fills in the identifiers."""
        c = self.command_named(command, application_id)
        return Message(c.code, c.application_id, FLAG_REQUEST | FLAG_PROXIABLE, 0, 0, typed.build(self, values))

    # --- building and reading ------------------------------------------------------------------------------
    def make(self, name: str, value: object) -> Avp:
        """The AVP `name` holding `value`: `d.make("Origin-Host", "ocs.example")`."""
        return self.avp(name).make(value)

    def value(self, a: Avp) -> Value:
        """The typed value of `a`; raw bytes when the AVP is unknown, a tree for a Grouped AVP."""
        d = self._by_code.get((a.code, a.vendor_id))
        if d is None:
            return a.data
        if d.type == "Grouped":
            return self.tree(a.grouped)
        return d.value(a)

    def tree(self, avps: Iterable[Avp]) -> list[Node]:
        """A message's AVPs as nested (name, value) pairs, for logs, tests and oracles."""
        out: list[Node] = []
        for a in avps:
            d = self._by_code.get((a.code, a.vendor_id))
            name = d.name if d is not None else f"{a.code}:{a.vendor_id}"
            out.append((name, self.value(a)))
        return out


# --- loading -----------------------------------------------------------------------------------------------

def _flags_rule(spec: str, where: str) -> tuple[bool, bool]:
    unknown = set(spec) - set("MVP-")
    if unknown:
        raise DictionaryError(f"{where}: flags {spec!r}: use the letters M, V, P")
    return "M" in spec, "P" in spec


def parse_file(data: Mapping[str, object], where: str) -> tuple[list[AvpDef], list[CommandDef]]:
    """The definitions in one parsed TOML document (`where` names it in errors)."""
    vendor = data.get("vendor", 0)
    default_flags = data.get("flags", "M")
    if not isinstance(vendor, int) or not isinstance(default_flags, str):
        raise DictionaryError(f"{where}: 'vendor' is an integer, 'flags' a string")
    raw_avps = data.get("avps", {})
    raw_commands = data.get("commands", {})
    if not isinstance(raw_avps, dict) or not isinstance(raw_commands, dict):
        raise DictionaryError(f"{where}: [avps] and [commands] are tables")
    avps: list[AvpDef] = []
    for name, spec in raw_avps.items():
        here = f"{where}: avps.{name}"
        if not isinstance(spec, dict):
            raise DictionaryError(f"{here}: an inline table is needed")
        extra = set(spec) - {"code", "type", "flags", "vendor", "enum", "members"}
        if extra:
            raise DictionaryError(f"{here}: unknown keys {sorted(extra)}")
        code, type_ = spec.get("code"), spec.get("type")
        if not isinstance(code, int) or not 0 < code < 1 << 32:
            raise DictionaryError(f"{here}: code must be an integer")
        if type_ not in TYPES:
            raise DictionaryError(f"{here}: type {type_!r} is not one of {sorted(TYPES)}")
        mandatory, protected = _flags_rule(str(spec.get("flags", default_flags)), here)
        enum = spec.get("enum", {})
        if not isinstance(enum, dict) or not all(isinstance(v, int) for v in enum.values()):
            raise DictionaryError(f"{here}: enum maps names to integers")
        if enum and type_ not in INTEGER_TYPES:
            raise DictionaryError(f"{here}: enum on a {type_}")
        members = spec.get("members", [])
        if not isinstance(members, list) or not all(isinstance(m, str) for m in members):
            raise DictionaryError(f"{here}: members is a list of AVP names")
        if members and type_ != "Grouped":
            raise DictionaryError(f"{here}: members on a {type_}")
        avp_vendor = spec.get("vendor", vendor)
        if not isinstance(avp_vendor, int):
            raise DictionaryError(f"{here}: vendor must be an integer")
        avps.append(AvpDef(code, avp_vendor, name, str(type_), mandatory, protected, dict(enum), tuple(members)))
    commands: list[CommandDef] = []
    for name, spec in raw_commands.items():
        here = f"{where}: commands.{name}"
        if not isinstance(spec, dict):
            raise DictionaryError(f"{here}: a table is needed")
        extra = set(spec) - {"code", "application", "request", "answer", "single"}
        if extra:
            raise DictionaryError(f"{here}: unknown keys {sorted(extra)}")
        code, app = spec.get("code"), spec.get("application", 0)
        if not isinstance(code, int) or not isinstance(app, int):
            raise DictionaryError(f"{here}: code and application are integers")
        request, answer, single = spec.get("request", []), spec.get("answer", []), spec.get("single", [])
        if not isinstance(request, list) or not isinstance(answer, list) or not isinstance(single, list):
            raise DictionaryError(f"{here}: request, answer and single are lists of AVP names")
        commands.append(CommandDef(code, app, name, tuple(map(str, request)), tuple(map(str, answer)),
                                   tuple(map(str, single))))
    return avps, commands


def load_dictionary(paths: Iterable[str | Path]) -> Dictionary:
    """Load every *.toml of each directory (or each file) in order; later definitions replace earlier ones.

    Names used in `members`, `request` and `answer` must be defined somewhere in the set."""
    d = Dictionary()
    for path in map(Path, paths):
        files = sorted(path.glob("*.toml")) if path.is_dir() else [path]
        if not files:
            raise DictionaryError(f"{path}: no dictionary files")
        for f in files:
            try:
                data = tomllib.loads(f.read_text())
            except (OSError, tomllib.TOMLDecodeError) as e:
                raise DictionaryError(f"{f}: {e}") from None
            avps, commands = parse_file(data, str(f))
            single = data.get("single", [])
            if not isinstance(single, list) or not all(isinstance(n, str) for n in single):
                raise DictionaryError(f"{f}: single is a list of AVP names")
            d.single |= frozenset(single)
            for app, names in _application_rules(data, str(f)).items():
                d.app_mandatory[app] = d.app_mandatory.get(app, frozenset()) | names
            for a in avps:
                d.add_avp(a)
            for c in commands:
                d.add_command(c)
    _check_references(d)
    return d


def _application_rules(data: Mapping[str, object], where: str) -> dict[int, frozenset[str]]:
    """`[applications.<id>] mandatory = [names]`: re-used AVPs that application sends with the M-bit set."""
    raw = data.get("applications", {})
    if not isinstance(raw, dict):
        raise DictionaryError(f"{where}: [applications] is a table")
    out: dict[int, frozenset[str]] = {}
    for app, spec in raw.items():
        names = spec.get("mandatory", []) if isinstance(spec, dict) else None
        if not str(app).isdigit() or not isinstance(names, list) or set(spec) - {"mandatory"}:
            raise DictionaryError(f"{where}: applications.{app}: an application id with mandatory = [names]")
        out[int(app)] = frozenset(map(str, names))
    return out


def _check_references(d: Dictionary) -> None:
    names = {a.name for a in d.avps()}
    for app, mandatory in d.app_mandatory.items():
        for n in mandatory - names:
            raise DictionaryError(f"applications.{app}: {n!r} is not defined")
    for n in d.single - names:
        raise DictionaryError(f"single: {n!r} is not defined")
    for a in d.avps():
        for m in a.members:
            if m not in names:
                raise DictionaryError(f"avps.{a.name}: member {m!r} is not defined")
    for c in d.commands():
        for n in (*c.request_required, *c.answer_required, *c.request_single):
            if n not in names:
                raise DictionaryError(f"commands.{c.name}: {n!r} is not defined")


def default_dictionary_dir() -> Path:
    """The shipped dictionaries: the source checkout, else <prefix>/share/ocsd/dictionaries/diameter."""
    from ocs.config import find_data_dir

    found = find_data_dir("dictionaries/diameter")
    if found is None:
        raise DictionaryError("the shipped Diameter dictionaries (dictionaries/diameter) are not installed")
    return found


@cache
def default_dictionary() -> Dictionary:
    """The shipped dictionaries, loaded once."""
    return load_dictionary([default_dictionary_dir()])


__all__ = [
    "AvpDef", "CommandDef", "Dictionary", "DictionaryError", "Node", "TYPES", "Value", "default_dictionary",
    "default_dictionary_dir", "load_dictionary", "parse_file",
]
