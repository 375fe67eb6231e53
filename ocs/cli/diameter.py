"""`ocsd diameter cer|dwr|air|ulr|ccr`: a Diameter test client in the box, like radclient (issue 13 point 3).

    ocsd diameter air -c /etc/ocsd/ocsd.toml --peer 127.0.0.1:3868 --imsi 001010000000001
    ocsd diameter ccr -c FILE --peer HOST:PORT --type initial --msisdn 15551230001 --rating-group 10 \\
        --requested 1000000 --count 100 --rate 50

Connects, exchanges CER/CEA (RFC 6733 §5.3) advertising the request's application, sends one request (or
`--count N` of them, `--rate R` a second) and prints the answer decoded by the dictionary (secrets redacted as
in the trace), or with several requests a summary: result codes and latencies. It speaks as a peer of the
daemon the config describes: `--origin-host` defaults to the first `[[diameter.peers]]` entry allowed the
application (so the daemon knows it), `--origin-realm` to that peer's realm, Destination-Realm to `[node]
origin_realm`. DWRs the other side sends meanwhile are answered (RFC 6733 §5.5).

Exit status: 0 every answer a success (2xxx), 1 no connection or no answer in time, 2 a refusal (any other
result code, or a bad option).
"""

from __future__ import annotations

import asyncio
import json
import secrets
import statistics
import time
from collections import Counter
from typing import Any

import click

from ocs.cli.common import EXIT_REFUSED, EXIT_UNAVAILABLE, config_option, fail, json_option, load_or_exit
from ocs.config import Config, split_hostport
from ocs.diameter.answers import result_of
from ocs.diameter.codes import CMD_DEVICE_WATCHDOG, FLAG_REQUEST
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.diameter.message import Message
from ocs.diameter.peers import APPLICATION_IDS
from ocs.transport.trace import redacted_tree

TGPP = 10415
RELAY = 0xFFFFFFFF  # RFC 6733 §2.4: the Relay application id, for a client that names no application
S6A, GY = APPLICATION_IDS["s6a"], APPLICATION_IDS["gy"]
CC_TYPES = {"initial": "INITIAL_REQUEST", "update": "UPDATE_REQUEST", "terminate": "TERMINATION_REQUEST",
            "event": "EVENT_REQUEST"}


def plmn_id(digits: str) -> bytes:
    """MCC+MNC digits as the 3-octet PLMN identity (TS 29.272 §7.3.9, TS 24.008 §10.5.1.13)."""
    mcc, mnc = digits[:3], digits[3:]
    mnc3 = mnc[2] if len(mnc) == 3 else "f"
    nibbles = [mcc[1] + mcc[0], mnc3 + mcc[2], mnc[1] + mnc[0]]
    return bytes(int(n, 16) for n in nibbles)


class Client:
    """One connection to a Diameter peer, after the capabilities exchange."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, d: Dictionary,
                 origin_host: str, origin_realm: str) -> None:
        self.reader, self.writer, self.d = reader, writer, d
        self.origin_host, self.origin_realm = origin_host, origin_realm
        self._next = secrets.randbelow(1 << 24) << 8

    def next_id(self) -> int:
        self._next = (self._next + 1) & 0xFFFFFFFF
        return self._next

    def send(self, message: Message) -> int:
        message.hop_by_hop = message.end_to_end = self.next_id()
        self.writer.write(message.encode())
        return message.hop_by_hop

    async def read(self) -> Message:
        while True:
            head = await self.reader.readexactly(4)
            msg = Message.decode(head + await self.reader.readexactly(int.from_bytes(head[1:4], "big") - 4))
            if msg.is_request and msg.command_code == CMD_DEVICE_WATCHDOG:
                self.writer.write(self.d.answer(msg, {"Result-Code": 2001, "Origin-Host": self.origin_host,
                                                      "Origin-Realm": self.origin_realm}).encode())
                continue
            return msg

    def cer(self, applications: tuple[int, ...]) -> Message:
        """Our CER (RFC 6733 §5.3.1; no P bit), advertising `applications` (S6a as the 3GPP vendor's)."""
        values: dict[str, Any] = {"Origin-Host": self.origin_host, "Origin-Realm": self.origin_realm,
                                  "Host-IP-Address": "127.0.0.1", "Vendor-Id": 0, "Product-Name": "ocsd-client",
                                  "Supported-Vendor-Id": TGPP, "Firmware-Revision": 1}
        plain = [a for a in applications if a != S6A] or ([] if S6A in applications else [RELAY])
        if plain:
            values["Auth-Application-Id"] = plain
        if S6A in applications:
            values["Vendor-Specific-Application-Id"] = {"Vendor-Id": TGPP, "Auth-Application-Id": S6A}
        return base_request(self.d, "Capabilities-Exchange", values)


def base_request(d: Dictionary, command: str, values: dict[str, Any]) -> Message:
    """A base-protocol request: R set, P clear (RFC 6733 §5.3.1, §5.5.1: CER and DWR are never proxied)."""
    msg = d.request(command, 0, values)
    msg.flags = FLAG_REQUEST
    return msg


def pick_identity(config: Config, application: str | None, origin_host: str | None,
                  origin_realm: str | None) -> tuple[str, str]:
    peers = [p for p in config.diameter.peers
             if application is None or p.applications is None or application in p.applications]
    host = origin_host or (peers[0].origin_host if peers else None)
    if host is None:
        fail("no --origin-host given and no [[diameter.peers]] entry in the config to speak as")
    peer = next((p for p in config.diameter.peers if p.origin_host.lower() == host.lower()), None)
    realm = origin_realm or (peer.realm if peer is not None and peer.realm else config.node.origin_realm)
    return host, realm


def describe(d: Dictionary, msg: Message, seconds: float) -> dict[str, Any]:
    command = d.command(msg.command_code, msg.application_id) or d.command(msg.command_code, 0)
    result = result_of(msg)
    return {"command": command.name if command is not None else msg.command_code,
            "application_id": msg.application_id, "result_code": result[0] if result else None,
            "vendor": result[1] if result else None, "seconds": round(seconds, 6),
            "avps": redacted_tree(d.tree(msg.avps))}


def render_tree(tree: list[Any], indent: int = 2) -> list[str]:
    lines = []
    for name, value in tree:
        if isinstance(value, list):
            lines.append(" " * indent + f"{name}:")
            lines += render_tree(value, indent + 2)
        else:
            lines.append(" " * indent + f"{name}: {value}")
    return lines


def render(answer: dict[str, Any]) -> str:
    code = answer["result_code"]
    vendor = f" (vendor {answer['vendor']})" if answer["vendor"] else ""
    head = f"{answer['command']}-Answer: result {code}{vendor} in {answer['seconds'] * 1000:.1f} ms"
    return "\n".join([head, *render_tree(answer["avps"])])


def summary(answers: list[dict[str, Any]], sent: int, seconds: float) -> dict[str, Any]:
    latencies = sorted(a["seconds"] for a in answers)
    codes = Counter(str(a["result_code"]) for a in answers)
    out: dict[str, Any] = {"sent": sent, "answered": len(answers), "seconds": round(seconds, 3),
                           "result_codes": dict(sorted(codes.items()))}
    if latencies:
        out["latency_ms"] = {"min": round(latencies[0] * 1000, 3),
                             "p50": round(statistics.median(latencies) * 1000, 3),
                             "p99": round(latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000, 3),
                             "max": round(latencies[-1] * 1000, 3)}
    return out


async def exchange(host: str, port: int, d: Dictionary, identity: tuple[str, str], applications: tuple[int, ...],
                   make: Any, count: int, rate: float, timeout: float) -> tuple[list[dict[str, Any]], float]:
    """CER/CEA, then `count` requests made by `make(client, i)` (None: the CEA is the answer)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
    client = Client(reader, writer, d, *identity)
    try:
        started = time.perf_counter()
        client.send(client.cer(applications))
        await writer.drain()
        cea = await asyncio.wait_for(client.read(), timeout)
        if make is None:
            return [describe(d, cea, time.perf_counter() - started)], time.perf_counter() - started
        result = result_of(cea)
        if result is None or result[0] // 1000 != 2:
            return [describe(d, cea, time.perf_counter() - started)], time.perf_counter() - started
        sent: dict[int, float] = {}
        begin = time.perf_counter()

        async def send_all() -> None:
            for i in range(count):
                if rate > 0:
                    await asyncio.sleep(max(0.0, begin + i / rate - time.perf_counter()))
                sent[client.send(make(client, i))] = time.perf_counter()
                await writer.drain()

        sender = asyncio.create_task(send_all())
        answers: list[dict[str, Any]] = []
        try:
            while len(answers) < count:
                msg = await asyncio.wait_for(client.read(), timeout + (count / rate if rate > 0 else 0))
                if msg.hop_by_hop in sent:
                    answers.append(describe(d, msg, time.perf_counter() - sent[msg.hop_by_hop]))
        except TimeoutError:
            pass
        finally:
            sender.cancel()
        return answers, time.perf_counter() - begin
    finally:
        writer.close()


def common(fn: Any) -> Any:
    for option in reversed([
        config_option,
        click.option("--peer", "peer", required=True, metavar="HOST:PORT", help="The Diameter peer to ask."),
        click.option("--origin-host", help="Our Origin-Host (default: the config's first allowed peer)."),
        click.option("--origin-realm", help="Our Origin-Realm (default: that peer's realm, else [node])."),
        click.option("--destination-realm", help="Destination-Realm (default: [node] origin_realm)."),
        click.option("--count", default=1, show_default=True, type=click.IntRange(1), help="Requests to send."),
        click.option("--rate", default=0.0, type=click.FloatRange(0), help="Requests a second (0: at once)."),
        click.option("--timeout", default=5.0, show_default=True, type=click.FloatRange(0.1),
                     help="Seconds to wait for the connection and each answer."),
        json_option,
    ]):
        fn = option(fn)
    return fn


def run_client(o: dict[str, Any], application: str | None, make: Any) -> None:
    as_json = o["as_json"]
    config = load_or_exit(o["config_path"], as_json=as_json)
    try:
        host, port = split_hostport(o["peer"])
    except ValueError:
        fail(f"--peer {o['peer']!r}: give HOST:PORT", as_json=as_json)
    identity = pick_identity(config, application, o["origin_host"], o["origin_realm"])
    o["destination_realm"] = o["destination_realm"] or config.node.origin_realm
    apps = ((APPLICATION_IDS[application],) if application is not None else
            tuple(APPLICATION_IDS[a] for a in config.diameter.applications if a in APPLICATION_IDS))
    count = o["count"] if make is not None else 1
    try:
        answers, seconds = asyncio.run(exchange(host, port, default_dictionary(), identity, apps,
                                                make, count, o["rate"], o["timeout"]))
    except (OSError, TimeoutError, asyncio.IncompleteReadError) as e:
        fail(f"no answer from {o['peer']}: {str(e) or type(e).__name__}", EXIT_UNAVAILABLE, as_json=as_json)
    if count == 1 or len(answers) < 1 or answers[0]["command"] == "Capabilities-Exchange" and make is not None:
        if not answers:
            fail(f"no answer from {o['peer']} within {o['timeout']} s", EXIT_UNAVAILABLE, as_json=as_json)
        click.echo(json.dumps(answers[0]) if as_json else render(answers[0]))
    else:
        s = summary(answers, count, seconds)
        click.echo(json.dumps(s) if as_json else
                   f"{s['answered']}/{s['sent']} answered in {s['seconds']} s; result codes {s['result_codes']}; "
                   f"latency ms {s.get('latency_ms', {})}")
    if len(answers) < count and not answers[0]["command"] == "Capabilities-Exchange":
        raise SystemExit(EXIT_UNAVAILABLE)
    if any(a["result_code"] is None or a["result_code"] // 1000 != 2 for a in answers):
        raise SystemExit(EXIT_REFUSED)


def session_id(host: str, i: int) -> str:
    return f"{host};{int(time.time())};{secrets.randbelow(1 << 32)};{i}"


@click.group("diameter")
def diameter() -> None:
    """A Diameter test client: send a request to a peer and print the answer."""


@diameter.command("cer")
@common
def cer(**o: Any) -> None:
    """Capabilities exchange only: print the CEA."""
    run_client(o, None, None)


@diameter.command("dwr")
@common
def dwr(**o: Any) -> None:
    """Device-Watchdog-Request after the CER: print the DWA."""
    def make(c: Client, _i: int) -> Message:
        return base_request(c.d, "Device-Watchdog", {"Origin-Host": c.origin_host, "Origin-Realm": c.origin_realm})
    run_client(o, None, make)


def _s6a(c: Client, o: dict[str, Any], command: str, i: int, body: dict[str, Any]) -> Message:
    return c.d.request(command, S6A, {
        "Session-Id": session_id(c.origin_host, i), "Auth-Session-State": "NO_STATE_MAINTAINED",
        "Origin-Host": c.origin_host, "Origin-Realm": c.origin_realm, "Destination-Realm": o["destination_realm"],
        "User-Name": o["imsi"], "Visited-PLMN-Id": plmn_id(o["plmn"] or o["imsi"][:5]), **body})


@diameter.command("air")
@common
@click.option("--imsi", required=True, help="The subscriber (User-Name).")
@click.option("--plmn", help="Visited PLMN as MCCMNC digits (default: the IMSI's first five).")
@click.option("--vectors", default=1, show_default=True, type=click.IntRange(1, 5), help="E-UTRAN vectors.")
def air(**o: Any) -> None:
    """Authentication-Information-Request (TS 29.272 §7.2.5): print the AIA (vectors redacted)."""
    run_client(o, "s6a", lambda c, i: _s6a(c, o, "Authentication-Information", i, {
        "Requested-EUTRAN-Authentication-Info": {"Number-Of-Requested-Vectors": o["vectors"],
                                                 "Immediate-Response-Preferred": 0}}))


@diameter.command("ulr")
@common
@click.option("--imsi", required=True, help="The subscriber (User-Name).")
@click.option("--plmn", help="Visited PLMN as MCCMNC digits (default: the IMSI's first five).")
def ulr(**o: Any) -> None:
    """Update-Location-Request (TS 29.272 §7.2.3), E-UTRAN, initial attach: print the ULA."""
    run_client(o, "s6a", lambda c, i: _s6a(c, o, "Update-Location", i, {
        "RAT-Type": 1004, "ULR-Flags": 0b100010}))  # EUTRAN (TS 29.212 §5.3.31); S6a/S6d-Indicator, Initial-Attach


@diameter.command("ccr")
@common
@click.option("--type", "cc_type", type=click.Choice(list(CC_TYPES)), default="initial", show_default=True)
@click.option("--imsi", help="The subscriber by IMSI (Subscription-Id END_USER_IMSI).")
@click.option("--msisdn", help="The subscriber by MSISDN (Subscription-Id END_USER_E164).")
@click.option("--rating-group", type=click.IntRange(0), default=None, help="Rating-Group of the MSCC.")
@click.option("--used", type=click.IntRange(0), default=None, help="Used-Service-Unit octets.")
@click.option("--requested", type=click.IntRange(0), default=None, help="Requested-Service-Unit octets.")
@click.option("--session", "session", help="Session-Id (default: a new one; give the CCR-I's for update/terminate).")
@click.option("--request-number", type=click.IntRange(0), default=None,
              help="CC-Request-Number (default: 0 for initial/event, 1 otherwise).")
def ccr(**o: Any) -> None:
    """Credit-Control-Request (RFC 4006 §3.1, Gy TS 32.299 §6.4.2): print the CCA."""
    if not o["imsi"] and not o["msisdn"]:
        fail("give --imsi or --msisdn", as_json=o["as_json"])
    number = o["request_number"] if o["request_number"] is not None else int(o["cc_type"] in ("update", "terminate"))

    def make(c: Client, i: int) -> Message:
        subscription = ({"Subscription-Id-Type": "END_USER_E164", "Subscription-Id-Data": o["msisdn"]} if o["msisdn"]
                        else {"Subscription-Id-Type": "END_USER_IMSI", "Subscription-Id-Data": o["imsi"]})
        values: dict[str, Any] = {
            "Session-Id": o["session"] if o["session"] and o["count"] == 1 else
            (f"{o['session']};{i}" if o["session"] else session_id(c.origin_host, i)),
            "Origin-Host": c.origin_host, "Origin-Realm": c.origin_realm, "Destination-Realm": o["destination_realm"],
            "Auth-Application-Id": GY, "Service-Context-Id": "32251@3gpp.org",
            "CC-Request-Type": CC_TYPES[o["cc_type"]], "CC-Request-Number": number, "Subscription-Id": subscription}
        if o["cc_type"] != "event":
            values["Multiple-Services-Indicator"] = "MULTIPLE_SERVICES_SUPPORTED"
        mscc: dict[str, Any] = {}
        if o["requested"] is not None:
            mscc["Requested-Service-Unit"] = {"CC-Total-Octets": o["requested"]}
        if o["used"] is not None:
            mscc["Used-Service-Unit"] = {"CC-Total-Octets": o["used"]}
        if o["rating_group"] is not None:
            mscc["Rating-Group"] = o["rating_group"]
        if mscc:
            values["Multiple-Services-Credit-Control"] = mscc
        return c.d.request("Credit-Control", GY, values)

    run_client(o, "gy", make)


GROUPS = [diameter]
__all__ = ["GROUPS", "plmn_id"]
