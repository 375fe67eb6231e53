"""MILENAGE, the example 3GPP authentication and key generation functions f1, f1*, f2, f3, f4, f5, f5*.

3GPP TS 35.205 (general), TS 35.206 (algorithm specification), checked against the TS 35.208 test sets
(tests/vectors/ts35208.toml). The block cipher E_K is AES-128 (TS 35.206 §3: Rijndael with 128-bit blocks
and keys). One `Milenage` holds the AES key schedule for one subscriber key K: build it once per K and reuse it
for every vector of that subscriber.

Values are handled as 128-bit integers between the two AES calls a full computation needs: one for TEMP, then
one ECB call over the concatenated inputs of OUT1..OUT5 (each block is independent in ECB, so this equals five
separate encryptions and is much cheaper in Python).

The AES calls go to pycryptodome's C ECB function directly, with an output buffer kept per length
(`_EcbEncrypt`): its Python `encrypt` wrapper (argument checks, a ctypes buffer and pointer wrappers per call)
cost five times the AES work itself at the sizes used here (16-80 bytes). If that internal interface is
missing (another pycryptodome), the public `encrypt` is used.

Nothing here logs or formats key material.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from Crypto.Cipher import AES

__all__ = [
    "AMF_LEN",
    "AK_LEN",
    "KEY_LEN",
    "MAC_LEN",
    "RAND_LEN",
    "RES_LEN",
    "SQN_LEN",
    "Milenage",
    "MilenageOutput",
    "opc",
]

KEY_LEN = 16  # K, OP, OPc, CK, IK (TS 35.206 §2)
RAND_LEN = 16
SQN_LEN = 6  # 48 bits
AMF_LEN = 2  # 16 bits
MAC_LEN = 8  # MAC-A, MAC-S: 64 bits
RES_LEN = 8  # f2 output: 64 bits
AK_LEN = 6  # 48 bits

_MASK128 = (1 << 128) - 1

# TS 35.206 §4.1: rotation amounts r1..r5 (bits, towards the most significant bit) and constants c1..c5.
R1, R2, R3, R4, R5 = 64, 0, 32, 64, 96
C1, C2, C3, C4, C5 = 0, 1, 2, 4, 8


def _rot(x: int, r: int) -> int:
    """Cyclic left rotation of a 128-bit value by r bits (TS 35.206 §4.1 rot(x, r))."""
    return ((x << r) | (x >> (128 - r))) & _MASK128


def _need(name: str, value: bytes, length: int) -> None:
    if len(value) != length:
        raise ValueError(f"{name} must be {length} bytes, got {len(value)}")


def _repeat(block: int, times: int) -> int:
    out = 0
    for _ in range(times):
        out = (out << 128) | block
    return out


class _EcbEncrypt:
    """AES-128-ECB encryption of whole blocks for one key, calling pycryptodome's `ECB_encrypt` itself (module
    docstring). Holds the cipher object, whose key schedule the C state belongs to. Not for use from several
    threads at once (the output buffers are shared); the daemon calls it from its one event-loop thread."""

    __slots__ = ("_cipher", "_state", "_fn", "_buffers")

    def __init__(self, cipher: Any, fn: Any) -> None:
        self._cipher = cipher
        self._state = cipher._state.get()
        self._fn = fn
        self._buffers: dict[int, tuple[Any, ctypes.c_size_t]] = {}

    def __call__(self, data: bytes) -> bytes:
        n = len(data)
        entry = self._buffers.get(n)
        if entry is None:
            if n % 16:
                raise ValueError("Data must be aligned to block boundary in ECB mode")
            entry = self._buffers[n] = (ctypes.create_string_buffer(n), ctypes.c_size_t(n))
        out, size = entry
        if self._fn(self._state, data, out, size):
            raise ValueError("ECB encryption failed")
        return out.raw


def _ecb_encrypt(k: bytes) -> Callable[[bytes], bytes]:
    cipher = AES.new(k, AES.MODE_ECB)
    try:
        from Crypto.Cipher._mode_ecb import raw_ecb_lib  # type: ignore[attr-defined]

        return _EcbEncrypt(cipher, raw_ecb_lib.ECB_encrypt)
    except (ImportError, AttributeError):  # another pycryptodome layout: the public (slower) call
        return cipher.encrypt  # type: ignore[no-any-return]


@dataclass(frozen=True, slots=True)
class MilenageOutput:
    """Everything one RAND/SQN/AMF gives (TS 35.206 §4.1): f1 MAC-A, f1* MAC-S, f2 RES, f3 CK, f4 IK, f5 AK, f5* AK*.

    Key material is kept out of repr()."""

    mac_a: bytes
    mac_s: bytes
    res: bytes = field(repr=False)
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)
    ak: bytes = field(repr=False)
    ak_star: bytes = field(repr=False)


def opc(k: bytes, op: bytes) -> bytes:
    """OPc = OP xor E_K(OP) (TS 35.206 §4.1); compute it once off the card and store OPc, not OP."""
    _need("K", k, KEY_LEN)
    _need("OP", op, KEY_LEN)
    enc = AES.new(k, AES.MODE_ECB).encrypt(op)
    return (int.from_bytes(enc) ^ int.from_bytes(op)).to_bytes(KEY_LEN)


class Milenage:
    """MILENAGE for one subscriber: K and OPc fixed, the AES-128 cipher built once (ECB) and reused."""

    __slots__ = ("_encrypt", "_opc", "_opc3", "_opc4", "_opc5")

    def __init__(self, k: bytes, opc: bytes) -> None:
        """Prepare f1..f5* for subscriber key `k` and operator constant `opc` (both 16 bytes)."""
        _need("K", k, KEY_LEN)
        _need("OPc", opc, KEY_LEN)
        self._encrypt: Callable[[bytes], bytes] = _ecb_encrypt(k)
        o = int.from_bytes(opc)
        self._opc = o
        self._opc3 = _repeat(o, 3)
        self._opc4 = _repeat(o, 4)
        self._opc5 = _repeat(o, 5)

    def __repr__(self) -> str:
        return "Milenage(<key material hidden>)"

    @classmethod
    def from_op(cls, k: bytes, op: bytes) -> Milenage:
        """A `Milenage` from K and the operator's OP (derives OPc first, TS 35.206 §4.1)."""
        return cls(k, opc(k, op))

    # -- internals -------------------------------------------------------------------------------------------------

    def _temp(self, rand: bytes) -> int:
        # TEMP = E_K(RAND xor OPc) (TS 35.206 §4.1)
        _need("RAND", rand, RAND_LEN)
        block = (int.from_bytes(rand) ^ self._opc).to_bytes(16)
        return int.from_bytes(self._encrypt(block))

    def _in1(self, sqn: bytes, amf: bytes) -> int:
        # IN1 = SQN || AMF || SQN || AMF (TS 35.206 §4.1)
        _need("SQN", sqn, SQN_LEN)
        _need("AMF", amf, AMF_LEN)
        half = (int.from_bytes(sqn) << 16) | int.from_bytes(amf)
        return (half << 64) | half

    def _out1(self, temp: int, in1: int) -> bytes:
        # OUT1 = E_K(TEMP xor rot(IN1 xor OPc, r1) xor c1) xor OPc
        o = self._opc
        x = self._encrypt((temp ^ _rot(in1 ^ o, R1) ^ C1).to_bytes(16))
        return (int.from_bytes(x) ^ o).to_bytes(16)

    def _out_n(self, temp: int, r: int, c: int) -> bytes:
        # OUTn = E_K(rot(TEMP xor OPc, rn) xor cn) xor OPc, n = 2..5
        o = self._opc
        x = self._encrypt((_rot(temp ^ o, r) ^ c).to_bytes(16))
        return (int.from_bytes(x) ^ o).to_bytes(16)

    # -- the functions -----------------------------------------------------------------------------------------------

    def f1(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """f1: network authentication code MAC-A = OUT1[0..63] (8 bytes)."""
        return self._out1(self._temp(rand), self._in1(sqn, amf))[:8]

    def f1star(self, rand: bytes, sqn: bytes, amf: bytes) -> bytes:
        """f1*: resynchronisation authentication code MAC-S = OUT1[64..127] (8 bytes)."""
        in1 = self._in1(sqn, amf)
        return self._out1(self._temp(rand), in1)[8:]

    def f2(self, rand: bytes) -> bytes:
        """f2: response RES = OUT2[64..127] (8 bytes)."""
        return self._out_n(self._temp(rand), R2, C2)[8:]

    def f3(self, rand: bytes) -> bytes:
        """f3: cipher key CK = OUT3 (16 bytes)."""
        return self._out_n(self._temp(rand), R3, C3)

    def f4(self, rand: bytes) -> bytes:
        """f4: integrity key IK = OUT4 (16 bytes)."""
        return self._out_n(self._temp(rand), R4, C4)

    def f5(self, rand: bytes) -> bytes:
        """f5: anonymity key AK = OUT2[0..47] (6 bytes)."""
        return self._out_n(self._temp(rand), R2, C2)[:6]

    def f5star(self, rand: bytes) -> bytes:
        """f5*: anonymity key for resynchronisation AK* = OUT5[0..47] (6 bytes)."""
        return self._out_n(self._temp(rand), R5, C5)[:6]

    def f2345(self, rand: bytes) -> tuple[bytes, bytes, bytes, bytes]:
        """(RES, CK, IK, AK) in two AES calls: what the USIM computes on receiving RAND."""
        temp = self._temp(rand)
        t = temp ^ self._opc
        blocks = (
            ((_rot(t, R2) ^ C2) << 256)
            | ((_rot(t, R3) ^ C3) << 128)
            | (_rot(t, R4) ^ C4)
        ).to_bytes(48)
        x = self._encrypt(blocks)
        out = (int.from_bytes(x) ^ self._opc3).to_bytes(48)
        return out[8:16], out[16:32], out[32:48], out[0:6]

    def _vector_blocks(self, temp: int, in1: int) -> bytes:
        # the inputs of OUT1..OUT4 for one vector, concatenated (64 bytes)
        o = self._opc
        t = temp ^ o
        return (
            ((temp ^ _rot(in1 ^ o, R1) ^ C1) << 384)
            | ((_rot(t, R2) ^ C2) << 256)
            | ((_rot(t, R3) ^ C3) << 128)
            | (_rot(t, R4) ^ C4)
        ).to_bytes(64)

    def _split_vector(self, enc: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        out = (int.from_bytes(enc) ^ self._opc4).to_bytes(64)
        # OUT1 = out[0:16], OUT2 = out[16:32], OUT3 = out[32:48], OUT4 = out[48:64]
        return out[0:8], out[24:32], out[32:48], out[48:64], out[16:22]

    def vector(self, rand: bytes, sqn: bytes, amf: bytes) -> tuple[bytes, bytes, bytes, bytes, bytes]:
        """(MAC-A, RES, CK, IK, AK) for an authentication vector, in two AES calls (the HSS hot path, once per
        AIR: `_temp`, `_in1`, `_vector_blocks` and `_split_vector` written out in one body, same arithmetic)."""
        if len(rand) != RAND_LEN or len(sqn) != SQN_LEN or len(amf) != AMF_LEN:
            _need("RAND", rand, RAND_LEN)
            _need("SQN", sqn, SQN_LEN)
            _need("AMF", amf, AMF_LEN)
        o = self._opc
        encrypt = self._encrypt
        temp = int.from_bytes(encrypt((int.from_bytes(rand) ^ o).to_bytes(16)))  # TEMP = E_K(RAND xor OPc)
        half = (int.from_bytes(sqn) << 16) | int.from_bytes(amf)
        x = ((half << 64) | half) ^ o  # IN1 xor OPc; rot by r1 = 64 swaps the halves
        t = temp ^ o  # r2 = 0: OUT2's input is TEMP xor OPc xor c2
        blocks = (
            ((temp ^ (((x << R1) | (x >> (128 - R1))) & _MASK128) ^ C1) << 384)
            | ((t ^ C2) << 256)
            | (((((t << R3) | (t >> (128 - R3))) & _MASK128) ^ C3) << 128)
            | ((((t << R4) | (t >> (128 - R4))) & _MASK128) ^ C4)
        ).to_bytes(64)
        out = (int.from_bytes(encrypt(blocks)) ^ self._opc4).to_bytes(64)
        # OUT1 = out[0:16], OUT2 = out[16:32], OUT3 = out[32:48], OUT4 = out[48:64]
        return out[0:8], out[24:32], out[32:48], out[48:64], out[16:22]

    def vectors(
        self, rands: Sequence[bytes], sqns: Sequence[bytes], amf: bytes
    ) -> list[tuple[bytes, bytes, bytes, bytes, bytes]]:
        """`vector` for several (RAND, SQN) pairs, in two AES calls in all (one ECB call for every TEMP, one for
        every OUT1..OUT4): the cheap way to fill one AIR's Number-Of-Requested-Vectors."""
        if len(rands) != len(sqns):
            raise ValueError(f"need one RAND per SQN, got {len(rands)} RANDs and {len(sqns)} SQNs")
        if not rands:
            return []
        if len(rands) == 1:  # the common AIR: one vector, no joins
            return [self.vector(rands[0], sqns[0], amf)]
        o = self._opc
        for rand in rands:
            _need("RAND", rand, RAND_LEN)
        temps = self._encrypt(b"".join([(int.from_bytes(r) ^ o).to_bytes(16) for r in rands]))
        blocks = b"".join([
            self._vector_blocks(int.from_bytes(temps[16 * i:16 * i + 16]), self._in1(sqn, amf))
            for i, sqn in enumerate(sqns)
        ])
        enc = self._encrypt(blocks)
        return [self._split_vector(enc[64 * i:64 * i + 64]) for i in range(len(rands))]

    def compute(self, rand: bytes, sqn: bytes, amf: bytes) -> MilenageOutput:
        """All seven outputs f1, f1*, f2, f3, f4, f5, f5* for one RAND/SQN/AMF, in two AES calls."""
        temp = self._temp(rand)
        o = self._opc
        t = temp ^ o
        blocks = (
            ((temp ^ _rot(self._in1(sqn, amf) ^ o, R1) ^ C1) << 512)
            | ((_rot(t, R2) ^ C2) << 384)
            | ((_rot(t, R3) ^ C3) << 256)
            | ((_rot(t, R4) ^ C4) << 128)
            | (_rot(t, R5) ^ C5)
        ).to_bytes(80)
        out = (int.from_bytes(self._encrypt(blocks)) ^ self._opc5).to_bytes(80)
        return MilenageOutput(
            mac_a=out[0:8],
            mac_s=out[8:16],
            res=out[24:32],
            ck=out[32:48],
            ik=out[48:64],
            ak=out[16:22],
            ak_star=out[64:70],
        )
