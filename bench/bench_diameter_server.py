"""Requests per second of a trivial handler over one TCP connection from a pipelining client.

The server is the real daemon (`tests.support.echo_daemon`: credit-control requests answered 2001 with no store)
in its own process, pinned to one core when `taskset` exists. The baseline, measured in the same run with the
same client, is a bare uvloop server that frames the stream and writes back a prepared answer without decoding
anything: the ceiling that Python's event loop and the socket allow on this machine.

Reading: the daemon's process on one core does decode, peer and request checks, dispatch and encode in
Python; the bare uvloop server only frames bytes, so it is the ceiling of the event loop and the socket.

    python bench/bench_diameter_server.py [--requests N] [--window W]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ocs.diameter import avp  # noqa: E402
from ocs.diameter.message import Message  # noqa: E402
from tests.support.daemon_process import DaemonProcess, free_port, write_config  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from pipeline import run_client  # noqa: E402

CLIENT = "bench.client"


def cer() -> bytes:
    return Message(257, 0, 0x80, 1, 1, [
        avp.utf8(264, CLIENT), avp.utf8(296, "test"), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
        avp.utf8(269, "bench", mandatory=False), avp.u32(258, 4)]).encode()


def ccr_template() -> bytes:
    return Message(272, 4, 0xC0, 0, 0, [
        avp.utf8(263, "bench.client;1;1"), avp.utf8(264, CLIENT), avp.utf8(296, "test"), avp.utf8(283, "test"),
        avp.u32(258, 4), avp.utf8(461, "32251@3gpp.org"), avp.u32(416, 2), avp.u32(415, 1),
        avp.grouped(443, [avp.u32(450, 1), avp.utf8(444, "001010000000001")]),
        avp.grouped(456, [avp.u32(432, 10), avp.grouped(446, [avp.u64(421, 1_000_000)])]),
    ]).encode()


class BlobServer(asyncio.Protocol):
    """Frames the stream and answers each message with a prepared CEA/CCA: no decoding at all."""

    def __init__(self, cea: bytes, cca: bytes) -> None:
        self.buf = bytearray()
        self.cea, self.cca = cea, cca
        self.first = True

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def data_received(self, data: bytes) -> None:
        buf = self.buf
        buf += data
        out = []
        pos = 0
        while len(buf) - pos >= 20:
            length = int.from_bytes(buf[pos + 1:pos + 4], "big")
            if len(buf) - pos < length:
                break
            ids = bytes(buf[pos + 12:pos + 20])
            answer = self.cea if self.first else self.cca
            self.first = False
            out.append(answer[:12] + ids + answer[20:])
            pos += length
        del buf[:pos]
        self.transport.write(b"".join(out))  # type: ignore[attr-defined]


def blob_server_main(port: int) -> None:
    import uvloop

    req = Message.decode(ccr_template())
    cca = req.answer([avp.utf8(263, "bench.client;1;1"), avp.utf8(264, "ocsd.test"), avp.utf8(296, "test"),
                      avp.u32(258, 4), avp.u32(268, 2001), avp.u32(416, 2), avp.u32(415, 1)]).encode()
    cea = Message.decode(cer()).answer([avp.u32(268, 2001), avp.utf8(264, "ocsd.test"), avp.utf8(296, "test"),
                                        avp.address(257, "127.0.0.1"), avp.u32(266, 0),
                                        avp.utf8(269, "blob"), avp.u32(258, 4)]).encode()

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        server = await loop.create_server(lambda: BlobServer(cea, cca), "127.0.0.1", port)
        print("ready", flush=True)
        await server.serve_forever()

    uvloop.run(serve())


def pinned(cmd: list[str], core: int) -> list[str]:
    return ["taskset", "-c", str(core), *cmd] if shutil.which("taskset") and os.cpu_count() and os.cpu_count() > 1 \
        else cmd


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200_000)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import uvloop

    if shutil.which("taskset") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {1})  # the client on core 1, the servers on core 0
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.requests} requests per run, window {args.window}, best of {args.runs}")

    def client(port: int):  # noqa: ANN202
        return run_client(port, cer(), [ccr_template()], args.requests, args.window)

    # baseline: the bare server
    port = free_port()
    blob = subprocess.Popen(pinned([sys.executable, __file__, "--blob-server", str(port)], 0),
                            stdout=subprocess.PIPE, cwd=ROOT)
    assert blob.stdout is not None
    blob.stdout.readline()
    try:
        base = max(uvloop.run(client(port)) for _ in range(args.runs))
    finally:
        blob.kill()

    # ocsd
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        config = write_config(Path(tmp) / "bench.toml", peers=[CLIENT], diameter_port=port,
                              admin_port=free_port(), watchdog=30)
        daemon = DaemonProcess(config)
        daemon.start()
        if shutil.which("taskset") and daemon.proc is not None:
            subprocess.run(["taskset", "-pc", "0", str(daemon.proc.pid)], check=False, capture_output=True)
        try:
            ours = max(uvloop.run(client(port)) for _ in range(args.runs))
        finally:
            daemon.kill()
    print(f"{'server':<44}{'requests/s':>12}")
    print(f"{'baseline: bare uvloop framing, no decode':<44}{base:>12,.0f}")
    print(f"{'ocsd: decode, checks, handler, encode':<44}{ours:>12,.0f}")
    print(f"ocsd reaches {ours / base:.0%} of the bare-server ceiling (target >= 20,000/s)")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--blob-server":
        blob_server_main(int(sys.argv[2]))
    else:
        main()
