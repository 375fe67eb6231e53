"""Two sans-IO Diameter nodes wired together in memory, with a clock the test moves (no sockets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocs.diameter import avp
from ocs.diameter.capabilities import Application, LocalIdentity
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.diameter.node import (
    Close,
    Connect,
    Effect,
    Node,
    NodeSettings,
    PeerConfig,
    RequestReceived,
    Write,
)

CC = Application(4)


def make_node(host: str, peers: list[PeerConfig], apps: tuple[Application, ...] = (CC,),
              settings: NodeSettings | None = None, seed: int = 1) -> Node:
    import random

    local = LocalIdentity(origin_host=host, origin_realm="test", applications=apps, origin_state_id=7)
    handlers = [(a.app_id, 272) for a in apps]
    return Node(local, peers, default_dictionary(), handlers, settings or NodeSettings(), random.Random(seed))


def ccr(session: str = "s;1", number: int = 0, extra: list[avp.Avp] | None = None,
        drop: int | None = None, origin: str = "client.test") -> Message:
    avps = [
        avp.utf8(263, session), avp.utf8(264, origin), avp.utf8(296, "test"), avp.utf8(283, "test"),
        avp.u32(258, 4), avp.utf8(461, "32251@3gpp.org"), avp.u32(416, 1), avp.u32(415, number),
    ]
    avps += extra or []
    return Message(272, 4, 0xC0, 0, 0, [a for a in avps if a.code != drop])


@dataclass
class Pair:
    """Nodes by name; links map (node, conn_id) to the other end."""

    nodes: dict[str, Node]
    now: float = 1000.0
    links: dict[tuple[str, int], tuple[str, int]] = field(default_factory=dict)
    seen: dict[str, list[Effect]] = field(default_factory=dict)
    muted: set[str] = field(default_factory=set)      # nodes whose writes are lost
    refuse_connect: set[str] = field(default_factory=set)
    auto_answer: bool = True
    pending: list[tuple[str, RequestReceived]] = field(default_factory=list)

    def __post_init__(self) -> None:
        for name in self.nodes:
            self.seen[name] = []

    def connect(self, initiator: str, target: str) -> None:
        a = self.nodes[initiator].connection_made(self.now, peer=target)
        b = self.nodes[target].connection_made(self.now)
        self.links[(initiator, a)] = (target, b)
        self.links[(target, b)] = (initiator, a)

    def pump(self) -> None:
        busy = True
        while busy:
            busy = False
            for name, node in self.nodes.items():
                for effect in node.pop_effects():
                    busy = True
                    self.seen[name].append(effect)
                    self._apply(name, effect)

    def _apply(self, name: str, effect: Effect) -> None:
        node = self.nodes[name]
        if isinstance(effect, Write):
            other = self.links.get((name, effect.conn_id))
            if other is not None and name not in self.muted:
                self.nodes[other[0]].data_received(other[1], effect.data, self.now)
        elif isinstance(effect, Close):
            other = self.links.pop((name, effect.conn_id), None)
            if other is not None:
                self.links.pop(other, None)
                self.nodes[other[0]].connection_lost(other[1], self.now)
        elif isinstance(effect, Connect):
            if effect.peer in self.refuse_connect or effect.peer not in self.nodes:
                node.connect_failed(effect.peer, self.now)
            else:
                self.connect(name, effect.peer)
        elif isinstance(effect, RequestReceived):
            if self.auto_answer:
                answer = effect.message.answer([avp.u32(268, 2001), avp.utf8(264, name), avp.utf8(296, "test")])
                node.send_answer(effect.token, answer, self.now)
            else:
                self.pending.append((name, effect))

    def advance(self, seconds: float) -> None:
        """Move the clock, firing every deadline on the way in order."""
        end = self.now + seconds
        while True:
            due = [(d, n) for n, node in self.nodes.items() if (d := node.next_deadline()) is not None and d <= end]
            if not due:
                break
            at, name = min(due)
            self.now = max(self.now, at)
            self.nodes[name].on_timer(self.now)
            self.pump()
        self.now = end

    def of(self, name: str, kind: type) -> list:
        return [e for e in self.seen[name] if isinstance(e, kind)]
