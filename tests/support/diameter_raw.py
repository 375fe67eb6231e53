"""One sans-IO server node driven with raw bytes by a test playing the peer (no second node, no sockets)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ocs.diameter import avp
from ocs.diameter.capabilities import Application
from ocs.diameter.message import Message
from ocs.diameter.node import Close, Effect, Node, NodeSettings, PeerConfig, Write
from tests.support.diameter_pair import make_node

SERVER = "ocs.test"
GY, S6A = Application(4), Application(16777251, 10415)


def cer(origin_host: str, realm: str = "test", apps: tuple[int, ...] = (4,), extra: list[avp.Avp] | None = None,
        hop_by_hop: int = 1) -> Message:
    avps = [avp.utf8(264, origin_host), avp.utf8(296, realm), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
            avp.utf8(269, "raw", mandatory=False)]
    avps += [avp.u32(258, a) for a in apps]
    return Message(257, 0, 0x80, hop_by_hop, hop_by_hop, avps + (extra or []))


def request(origin_host: str, *, app: int = 4, command: int = 272, realm: str = "test", e2e: int = 7,
            hop_by_hop: int = 100, flags: int = 0xC0, session: str = "s;1") -> Message:
    avps = [avp.utf8(263, session), avp.utf8(264, origin_host), avp.utf8(296, realm), avp.utf8(283, "test"),
            avp.u32(258, app), avp.utf8(461, "32251@3gpp.org"), avp.u32(416, 1), avp.u32(415, 0)]
    return Message(command, app, flags, hop_by_hop, e2e, avps)


@dataclass
class Server:
    node: Node
    now: float = 1000.0
    effects: list[Effect] = field(default_factory=list)

    @classmethod
    def make(cls, peers: list[PeerConfig], apps: tuple[Application, ...] = (GY,),
             settings: NodeSettings | None = None) -> Server:
        return cls(make_node(SERVER, peers, apps, settings=settings))

    def connect(self) -> int:
        conn = self.node.connection_made(self.now)
        self.effects += self.node.pop_effects()
        return conn

    def feed(self, conn: int, data: bytes | Message) -> list[Effect]:
        self.node.data_received(conn, data if isinstance(data, bytes) else data.encode(), self.now)
        new = self.node.pop_effects()
        self.effects += new
        return new

    def open(self, origin_host: str, realm: str = "test", apps: tuple[int, ...] = (4,)) -> int:
        conn = self.connect()
        cea = self.messages(self.feed(conn, cer(origin_host, realm, apps)), conn)
        assert cea and cea[0].find(268).u32 == 2001, cea
        return conn

    def pop(self) -> list[Effect]:
        new = self.node.pop_effects()
        self.effects += new
        return new

    @staticmethod
    def messages(effects: list[Effect], conn: int) -> list[Message]:
        return [Message.decode(e.data) for e in effects if isinstance(e, Write) and e.conn_id == conn]

    @staticmethod
    def closed(effects: list[Effect], conn: int) -> bool:
        return Close(conn) in effects


def result(m: Message) -> int:
    return m.find(268).u32
