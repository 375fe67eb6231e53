"""Feeding hostile octets to a sans-IO Diameter `Node` and checking what it does, for the corpus test
(tests/unit/diameter/test_node_fuzz.py) and the long mutation run (bench/fuzz_node.py).

Only the node's public API is used (constructor, `connection_made`, `data_received`, `send_answer`,
`on_timer`, `connection_lost`, `pop_effects`); effects are told apart by their class name, so this survives
the node being split into modules. Requests the node hands to the application are answered (2001).
The checks, for one input on one connection (before the CER, or over an open peer):
- `data_received` raises nothing: whatever the peer sends is the node's to handle (answer, close, log);
- every octet the node writes is a well-formed Diameter message, and an answer (or our DWR/DPR);
- a stream that cannot be framed (version not 1, length below 20, not a multiple of 4, above the bound) is
  closed (RFC 6733 §3), unless the node had stopped reading it (a rejected second CER: it then closes once
  the requests in flight are answered, §5.6 R-Reject); a complete request is answered, handed to the
  application, logged or closed on;
- a connection still without a CER is closed when the CER timer fires (RFC 6733 §5.3 / §5.6 Wait-CER);
- memory: the peak the node allocates while fed stays under a constant plus a linear bound in the input
  (parsed AVP headers cost ~80 octets of objects each, so 8-octet AVPs make ~10x; 32x is allowed).
"""

from __future__ import annotations

import random
import struct
import tracemalloc
from dataclasses import dataclass, field
from pathlib import Path

from ocs.diameter.capabilities import Application, LocalIdentity
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.diameter.node import Node, NodeSettings, PeerConfig

CORPUS_DIR = Path(__file__).resolve().parents[1] / "vectors" / "fuzz"
MAX_MESSAGE = 1 << 20          # the node's frame bound (ocs.diameter.message.MAX_MESSAGE_LENGTH)
MEMORY_SLACK = 512 * 1024      # allocation peak allowed beyond MEMORY_PER_OCTET x the input
MEMORY_PER_OCTET = 32
NOW = 1000.0
SETTINGS = NodeSettings(cer_timeout=10.0)


def load_corpus(directory: Path = CORPUS_DIR) -> dict[str, bytes]:
    """name -> octets of every `.hex` file (comment lines start with #)."""
    out = {}
    for path in sorted(directory.glob("*.hex")):
        text = "".join(line for line in path.read_text().splitlines() if not line.startswith("#"))
        out[path.stem] = bytes.fromhex("".join(text.split()))
    return out


def write_case(directory: Path, name: str, comment: str, data: bytes) -> Path:
    path = directory / f"{name}.hex"
    path.write_text(f"# {comment} ({len(data)} octets)\n"
                    + "\n".join(data[i:i + 32].hex() for i in range(0, len(data), 32)) + "\n")
    return path


def make_node(seed: int = 1) -> Node:
    local = LocalIdentity(origin_host="ocsd.test", origin_realm="test", applications=(Application(4),),
                          origin_state_id=7)
    return Node(local, [PeerConfig("client.test", "test")], default_dictionary(), [(4, 272)], SETTINGS,
                random.Random(seed))


def kind(effect: object) -> str:
    return type(effect).__name__


@dataclass
class Frames:
    """How an independent framer (RFC 6733 §3) splits the input."""

    requests: int = 0       # complete frames with the R bit
    complete: int = 0
    unframable: bool = False  # a header no Diameter stream can carry: the node must close
    partial: bool = False     # the input ends inside a frame


def frames(data: bytes) -> Frames:
    f = Frames()
    pos = 0
    while len(data) - pos >= 4:
        version, length = data[pos], int.from_bytes(data[pos + 1:pos + 4], "big")
        if version != 1 or length < 20 or length & 3 or length > MAX_MESSAGE:
            f.unframable = True
            return f
        if len(data) - pos < length:
            f.partial = True
            return f
        f.complete += 1
        f.requests += bool(data[pos + 4] & 0x80)
        pos += length
    f.partial = pos < len(data)
    return f


@dataclass
class Outcome:
    writes: list[bytes] = field(default_factory=list)
    closed: bool = False
    delivered: int = 0      # requests handed to the application
    opened: bool = False    # the input's own CER opened the peer
    rejected: bool = False  # the node refused the connection and stopped reading it
    tokens: list[tuple[int, bytes]] = field(default_factory=list)  # requests in flight: token, header
    notices: list[str] = field(default_factory=list)
    peak: int = 0           # octets allocated at the peak while fed (0 when not measured)

    @property
    def trace(self) -> tuple[tuple[bytes, ...], bool, int]:
        return tuple(self.writes), self.closed, self.delivered


class FuzzFailure(AssertionError):
    pass


def _collect(node: Node, conn: int, out: Outcome) -> None:
    for e in node.pop_effects():
        k = kind(e)
        if k == "Write" and e.conn_id == conn:  # type: ignore[attr-defined]
            out.writes.append(e.data)  # type: ignore[attr-defined]
        elif k == "Close" and e.conn_id == conn:  # type: ignore[attr-defined]
            out.closed = True
        elif k == "RequestReceived":
            out.delivered += 1
            out.tokens.append((e.token, e.message.encode()[:20]))  # type: ignore[attr-defined]
        elif k == "PeerUp":
            out.opened = True
        elif k == "Notice":
            out.notices.append(e.event)  # type: ignore[attr-defined]
            out.rejected |= e.event == "connection-rejected"  # type: ignore[attr-defined]


def open_peer(node: Node, cer: bytes) -> int:
    conn = node.connection_made(NOW)
    node.data_received(conn, cer, NOW)
    effects = node.pop_effects()
    if "PeerUp" not in {kind(e) for e in effects}:
        raise FuzzFailure(f"the valid CER did not open the peer: {effects}")
    return conn


def run_case(data: bytes, *, open_first: bytes | None, chunks: list[int] | None = None,
             measure: bool = False, seed: int = 1) -> Outcome:
    """Feed `data` on a new connection (after the CER `open_first` when given), in pieces of the sizes
    `chunks` cycles through (whole when None), and check the node's behaviour; raises FuzzFailure."""
    node = make_node(seed)
    conn = open_peer(node, open_first) if open_first is not None else node.connection_made(NOW)
    out = Outcome()
    pieces = [data] if not chunks else _split(data, chunks)
    if measure:
        tracemalloc.start()
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
    try:
        for piece in pieces:
            node.data_received(conn, piece, NOW)
            _collect(node, conn, out)
            if out.closed:
                break
    except Exception as e:  # the property under test: the node handles whatever arrives
        raise FuzzFailure(f"data_received raised {type(e).__name__}: {e}") from e
    finally:
        if measure:
            out.peak = tracemalloc.get_traced_memory()[1] - base
            tracemalloc.stop()
    _check(node, conn, data, out, opened=open_first is not None)
    return out


ANSWER_AVPS = (struct.pack(">II", 268, (0x40 << 24) | 12) + struct.pack(">I", 2001)      # Result-Code 2001
               + struct.pack(">II", 264, (0x40 << 24) | 17) + b"ocsd.test\0\0\0"       # Origin-Host
               + struct.pack(">II", 296, (0x40 << 24) | 12) + b"test")                  # Origin-Realm


def _answer_in_flight(node: Node, conn: int, out: Outcome) -> None:
    """Answer every request handed to the application (the header with R cleared, Result-Code 2001)."""
    tokens, out.tokens = out.tokens, []
    for token, head in tokens:
        flags = head[4] & 0x40  # RFC 6733 §6.2: R cleared, P kept
        answer = (struct.pack(">I", (1 << 24) | (20 + len(ANSWER_AVPS))) + bytes([flags]) + head[5:20]
                  + ANSWER_AVPS)
        try:
            node.send_answer(token, answer, NOW)
        except Exception as e:
            raise FuzzFailure(f"send_answer raised {type(e).__name__}: {e}") from e
        _collect(node, conn, out)


def _split(data: bytes, sizes: list[int]) -> list[bytes]:
    out, pos, i = [], 0, 0
    while pos < len(data):
        n = sizes[i % len(sizes)]
        out.append(data[pos:pos + n])
        pos += n
        i += 1
    return out


def _check(node: Node, conn: int, data: bytes, out: Outcome, *, opened: bool) -> None:
    f = frames(data)
    _answer_in_flight(node, conn, out)
    if out.rejected and not out.closed:
        raise FuzzFailure("a rejected connection was not closed once its requests were answered (§5.6)")
    for w in out.writes:
        try:
            msg = Message.decode(w)
        except Exception as e:
            raise FuzzFailure(f"the node wrote a malformed message ({e}): {w[:40].hex()}") from e
        if msg.is_request and msg.command_code not in (280, 282):  # our own DWR / DPR only
            raise FuzzFailure(f"the node wrote request {msg.command_code} to a fuzzing peer")
    if f.unframable and not out.closed and not out.rejected:
        raise FuzzFailure("a stream that cannot be framed was not closed (RFC 6733 §3)")
    if f.requests and not (out.writes or out.closed or out.delivered or out.notices):
        raise FuzzFailure(f"{f.requests} complete request(s): no answer, no close, no notice")
    if out.peak > MEMORY_SLACK + MEMORY_PER_OCTET * len(data):
        raise FuzzFailure(f"allocated {out.peak} octets at the peak for {len(data)} octets of input")
    if out.closed:
        return
    try:
        if not opened and not out.opened:
            node.on_timer(NOW + SETTINGS.cer_timeout + 1)   # RFC 6733 §5.3: the CER timer of the connection
            _collect(node, conn, out)
            if not out.closed:
                raise FuzzFailure("a connection without a CER was not closed when its CER timer fired")
        else:
            node.on_timer(NOW + 1)
            node.connection_lost(conn, NOW + 2)              # the peer goes away mid-frame or after it
            node.pop_effects()
    except FuzzFailure:
        raise
    except Exception as e:
        raise FuzzFailure(f"on_timer/connection_lost raised {type(e).__name__}: {e}") from e


__all__ = ["CORPUS_DIR", "FuzzFailure", "Outcome", "frames", "load_corpus", "make_node", "open_peer", "run_case",
           "write_case"]
