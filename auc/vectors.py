"""Authentication vectors: E-UTRAN (S6a), UMTS quintuplets and GERAN triplets.

- AUTN = (SQN xor AK) || AMF || MAC-A (TS 33.102 §6.3.2).
- E-UTRAN: KASME from CK, IK, the serving network id and SQN xor AK (TS 33.401 §6.1.1 and Annex A.2).
- GERAN from a quintuplet (TS 33.102 §6.8.1.2): SRES = c2(XRES), Kc = c3(CK, IK).

RAND is always passed in (the caller draws it from a CSPRNG), so every function here is deterministic and can be
checked against published vectors. Key material is kept out of the dataclasses' repr().
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from auc.kdf import kasme
from auc.milenage import Milenage

__all__ = [
    "EutranVector",
    "GeranVector",
    "UmtsVector",
    "c2",
    "c3",
    "generate_eutran_vector",
    "generate_eutran_vectors",
    "generate_geran_vector",
    "generate_umts_vector",
    "geran_from_umts",
]

_SQN_MAX = (1 << 48) - 1


@dataclass(frozen=True, slots=True)
class EutranVector:
    """An E-UTRAN authentication vector (TS 33.401 §6.1.1): RAND, XRES, AUTN, KASME."""

    rand: bytes
    xres: bytes = field(repr=False)
    autn: bytes
    kasme: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class UmtsVector:
    """A UMTS authentication vector, the quintuplet (TS 33.102 §6.3.2): RAND, XRES, AUTN, CK, IK."""

    rand: bytes
    xres: bytes = field(repr=False)
    autn: bytes
    ck: bytes = field(repr=False)
    ik: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class GeranVector:
    """A GSM triplet (TS 33.102 §6.8.1.2): RAND, SRES (4 bytes), Kc (8 bytes)."""

    rand: bytes
    sres: bytes = field(repr=False)
    kc: bytes = field(repr=False)


def _sqn6(sqn: int) -> bytes:
    if not 0 <= sqn <= _SQN_MAX:
        raise ValueError(f"SQN must be in 0..2**48-1, got {sqn}")
    return sqn.to_bytes(6)


def _autn(sqn: bytes, ak: bytes, amf: bytes, mac_a: bytes) -> tuple[bytes, bytes]:
    # AUTN = SQN xor AK || AMF || MAC-A (TS 33.102 §6.3.2); returns (AUTN, SQN xor AK)
    concealed = (int.from_bytes(sqn) ^ int.from_bytes(ak)).to_bytes(6)
    return concealed + amf + mac_a, concealed


def c2(xres: bytes) -> bytes:
    """TS 33.102 §6.8.1.2 c2: SRES = XRES*1 xor XRES*2 xor XRES*3 xor XRES*4, the 32-bit words of XRES* (XRES
    padded with zero bits to 128 bits)."""
    if not 4 <= len(xres) <= 16:
        raise ValueError(f"XRES must be 4..16 bytes, got {len(xres)}")
    x = int.from_bytes(xres.ljust(16, b"\x00"))
    m = 0xFFFFFFFF
    return ((x >> 96) ^ ((x >> 64) & m) ^ ((x >> 32) & m) ^ (x & m)).to_bytes(4)


def c3(ck: bytes, ik: bytes) -> bytes:
    """TS 33.102 §6.8.1.2 c3: Kc = CK1 xor CK2 xor IK1 xor IK2, the 64-bit halves of CK and IK."""
    if len(ck) != 16 or len(ik) != 16:
        raise ValueError(f"CK and IK must be 16 bytes each, got {len(ck)} and {len(ik)}")
    c = int.from_bytes(ck)
    i = int.from_bytes(ik)
    m = (1 << 64) - 1
    return ((c >> 64) ^ (c & m) ^ (i >> 64) ^ (i & m)).to_bytes(8)


def _eutran_from(
    sqn_b: bytes, amf: bytes, rand: bytes, serving_network_id: bytes, out: tuple[bytes, bytes, bytes, bytes, bytes]
) -> EutranVector:
    mac_a, res, ck, ik, ak = out
    autn, concealed = _autn(sqn_b, ak, amf, mac_a)
    return EutranVector(rand=rand, xres=res, autn=autn, kasme=kasme(ck, ik, serving_network_id, concealed))


def generate_eutran_vector(
    k: bytes | Milenage, opc: bytes | None, sqn: int, amf: bytes, rand: bytes, serving_network_id: bytes
) -> EutranVector:
    """One E-UTRAN vector (TS 33.401 §6.1.1) for SQN (an int, 48 bits), AMF (2 bytes), RAND (16 bytes) and the
    3-byte serving network id (PLMN id of Visited-PLMN-Id). `k` may be a ready `Milenage` (then `opc` is None)."""
    if len(serving_network_id) != 3:
        raise ValueError(f"serving network id must be 3 bytes (PLMN id), got {len(serving_network_id)}")
    sqn_b = _sqn6(sqn)
    return _eutran_from(sqn_b, amf, rand, serving_network_id, _milenage(k, opc).vector(rand, sqn_b, amf))


def generate_eutran_vectors(
    k: bytes | Milenage, opc: bytes | None, sqns: Sequence[int], amf: bytes, rands: Sequence[bytes],
    serving_network_id: bytes,
) -> list[EutranVector]:
    """Several E-UTRAN vectors (one AIR), one per (SQN, RAND) pair: one AES key schedule and two AES calls in all."""
    if len(sqns) != len(rands):
        raise ValueError(f"need one RAND per SQN, got {len(sqns)} SQNs and {len(rands)} RANDs")
    if len(serving_network_id) != 3:
        raise ValueError(f"serving network id must be 3 bytes (PLMN id), got {len(serving_network_id)}")
    if len(sqns) == 1:  # the usual AIR: one vector, no lists
        sqn_b = _sqn6(sqns[0])
        return [_eutran_from(sqn_b, amf, rands[0], serving_network_id, _milenage(k, opc).vector(rands[0], sqn_b, amf))]
    sqn_bs = [_sqn6(s) for s in sqns]
    outs = _milenage(k, opc).vectors(rands, sqn_bs, amf)
    return [
        _eutran_from(sqn_b, amf, rand, serving_network_id, out)
        for sqn_b, rand, out in zip(sqn_bs, rands, outs, strict=True)
    ]


def generate_umts_vector(k: bytes | Milenage, opc: bytes | None, sqn: int, amf: bytes, rand: bytes) -> UmtsVector:
    """One UMTS quintuplet (TS 33.102 §6.3.2): RAND, XRES = f2, AUTN, CK = f3, IK = f4."""
    sqn_b = _sqn6(sqn)
    mac_a, res, ck, ik, ak = _milenage(k, opc).vector(rand, sqn_b, amf)
    autn, _ = _autn(sqn_b, ak, amf, mac_a)
    return UmtsVector(rand=rand, xres=res, autn=autn, ck=ck, ik=ik)


def geran_from_umts(v: UmtsVector) -> GeranVector:
    """The GSM triplet of a quintuplet (TS 33.102 §6.8.1.2): SRES = c2(XRES), Kc = c3(CK, IK)."""
    return GeranVector(rand=v.rand, sres=c2(v.xres), kc=c3(v.ck, v.ik))


def generate_geran_vector(k: bytes | Milenage, opc: bytes | None, rand: bytes) -> GeranVector:
    """A GSM triplet for a USIM subscriber (no SQN needed: only f2, f3, f4 of RAND are used)."""
    res, ck, ik, _ = _milenage(k, opc).f2345(rand)
    return GeranVector(rand=rand, sres=c2(res), kc=c3(ck, ik))


def _milenage(k: bytes | Milenage, opc: bytes | None) -> Milenage:
    if isinstance(k, Milenage):
        if opc is not None:
            raise ValueError("pass opc=None with a ready Milenage (it already holds OPc)")
        return k
    if opc is None:
        raise ValueError("OPc is required with a raw K")
    return Milenage(k, opc)
