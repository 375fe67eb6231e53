"""Decode Diameter messages with Wireshark's tshark (scripts/ensure-tshark.sh installs it): each message goes
into a pcap as one TCP segment to port 3868, and tshark reports what it finds malformed."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
from pathlib import Path

import pytest

needs_tshark = pytest.mark.skipif(shutil.which("tshark") is None and not os.environ.get("CI"),
                                  reason="tshark is not installed (scripts/ensure-tshark.sh); required in CI")


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def pcap(messages: list[bytes], path: Path) -> Path:
    """A pcap (link type 101, raw IPv4) with each message in its own TCP segment 127.0.0.1:3868 -> :40000."""
    out = [struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 101)]
    seq = 1
    for i, m in enumerate(messages):
        tcp = struct.pack("!HHIIBBHHH", 3868, 40000, seq, 1, 5 << 4, 0x18, 65535, 0, 0)
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp) + len(m), i, 0, 64, 6, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1]))
        ip = ip[:10] + struct.pack("!H", _checksum(ip)) + ip[12:]
        packet = ip + tcp + m
        out.append(struct.pack("<IIII", i, 0, len(packet), len(packet)) + packet)
        seq += len(m)
    path.write_bytes(b"".join(out))
    return path


def decode(messages: list[bytes], path: Path) -> tuple[str, str]:
    """(tshark's verbose decode, the lines of malformed/error-level expert info: empty when all is well)."""
    f = pcap(messages, path)
    verbose = subprocess.run(["tshark", "-n", "-r", str(f), "-V", "-d", "tcp.port==3868,diameter"],
                             capture_output=True, text=True, check=True, timeout=60).stdout
    problems = subprocess.run(["tshark", "-n", "-r", str(f), "-d", "tcp.port==3868,diameter", "-Y",
                               "_ws.malformed || _ws.expert.severity == error"],
                              capture_output=True, text=True, check=True, timeout=60).stdout
    return verbose, problems.strip()


__all__ = ["decode", "needs_tshark", "pcap"]
