"""A test-side USIM that follows TS 33.102, sharing no code with `auc` beyond AES itself.

It has its own MILENAGE (bytes and one AES call per block, written straight from TS 35.206 §4.1) and its own
KASME computation. It keeps the highest accepted SEQ per IND and checks freshness as in TS 33.102 Annex C.2.2
(SEQ > SEQ_MS[IND], and SEQ - SEQ_MS <= Δ with Δ = 2^28); a stale or far-ahead SQN gives
AUTS = (SQN_MS xor f5*(RAND)) || f1*(SQN_MS || RAND || 0x0000) (TS 33.102 §6.3.3).
Used by the property tests of `auc` and by the S6a integration and end-to-end tests.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from Crypto.Cipher import AES

IND_BITS = 5
DELTA = 1 << 28  # TS 33.102 Annex C.2.2: limit on how far ahead of SEQ_MS an accepted SEQ may be
AMF_RESYNC = b"\x00\x00"


def xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


class RefMilenage:
    """TS 35.206 §4.1 spelled out on bytes: the rotations r1..r5 are whole bytes, c1..c5 touch the last byte."""

    def __init__(self, k: bytes, opc: bytes) -> None:
        self._aes = AES.new(k, AES.MODE_ECB)
        self._opc = opc

    def _e(self, block: bytes) -> bytes:
        return self._aes.encrypt(block)

    def _temp(self, rand: bytes) -> bytes:
        return self._e(xor(rand, self._opc))

    def _out(self, rand: bytes, r_bits: int, c: int) -> bytes:
        x = xor(self._temp(rand), self._opc)
        n = r_bits // 8
        x = x[n:] + x[:n]
        x = x[:15] + bytes([x[15] ^ c])
        return xor(self._e(x), self._opc)

    def _out1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        in1 = sqn + amf + sqn + amf
        x = xor(in1, self._opc)
        x = x[8:] + x[:8]  # r1 = 64
        return xor(self._e(xor(self._temp(rand), x)), self._opc)  # c1 = 0

    def f1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        return self._out1(rand, sqn, amf)[:8]

    def f1star(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        return self._out1(rand, sqn, amf)[8:]

    def f2(self, rand: bytes) -> bytes:
        return self._out(rand, 0, 1)[8:]

    def f3(self, rand: bytes) -> bytes:
        return self._out(rand, 32, 2)

    def f4(self, rand: bytes) -> bytes:
        return self._out(rand, 64, 4)

    def f5(self, rand: bytes) -> bytes:
        return self._out(rand, 0, 1)[:6]

    def f5star(self, rand: bytes) -> bytes:
        return self._out(rand, 96, 8)[:6]


@dataclass(frozen=True)
class Accepted:
    res: bytes
    ck: bytes
    ik: bytes
    sqn: int


@dataclass(frozen=True)
class SyncFailure:
    auts: bytes


@dataclass(frozen=True)
class MacFailure:
    pass


class Usim:
    """A USIM: K, OPc, SEQ_MS[IND] and the highest accepted SQN (TS 33.102 Annex C.2)."""

    def __init__(self, k: bytes, opc: bytes, ind_bits: int = IND_BITS) -> None:
        self.m = RefMilenage(k, opc)
        self.ind_bits = ind_bits
        self.seq_ms = [0] * (1 << ind_bits)
        self.sqn_ms = 0  # highest accepted SQN; sent back concealed in AUTS

    def authenticate(self, rand: bytes, autn: bytes) -> Accepted | SyncFailure | MacFailure:
        ak = self.m.f5(rand)
        sqn_b, amf, mac_a = xor(autn[:6], ak), autn[6:8], autn[8:]
        if not hmac.compare_digest(self.m.f1(rand, sqn_b, amf), mac_a):  # TS 33.102 §6.3.3: XMAC = MAC
            return MacFailure()
        sqn = int.from_bytes(sqn_b)
        seq, ind = sqn >> self.ind_bits, sqn & ((1 << self.ind_bits) - 1)
        highest_seq = self.sqn_ms >> self.ind_bits
        if seq <= self.seq_ms[ind] or seq - highest_seq > DELTA:  # Annex C.2.2
            return SyncFailure(self.auts(rand))
        self.seq_ms[ind] = seq
        self.sqn_ms = max(self.sqn_ms, sqn)
        return Accepted(res=self.m.f2(rand), ck=self.m.f3(rand), ik=self.m.f4(rand), sqn=sqn)

    def auts(self, rand: bytes) -> bytes:
        sqn_ms = self.sqn_ms.to_bytes(6)
        return xor(sqn_ms, self.m.f5star(rand)) + self.m.f1star(rand, sqn_ms, AMF_RESYNC)


def usim_kasme(ck: bytes, ik: bytes, sn_id: bytes, sqn_xor_ak: bytes) -> bytes:
    s = bytes([0x10]) + sn_id + len(sn_id).to_bytes(2) + sqn_xor_ak + len(sqn_xor_ak).to_bytes(2)
    return hmac.new(ck + ik, s, hashlib.sha256).digest()
