"""Sequence numbers and resynchronisation (TS 33.102 §6.3.5, Annex C).

SQN is 48 bits: SQN = SEQ || IND, IND its `ind_bits` least significant bits (Annex C.1.1; 5 bits by default, and
0 gives the plain counter of Annex C.1.2 style schemes). The HSS keeps one SEQ per subscriber and picks IND per
vector; the USIM keeps the highest accepted SEQ per IND value (Annex C.2.2).

On a synchronisation failure the USIM sends AUTS = (SQN_MS xor f5*_K(RAND)) || MAC-S with
MAC-S = f1*_K(SQN_MS || RAND || AMF*), AMF* = 0x0000 (TS 33.102 §6.3.3); `resync` recovers and verifies SQN_MS.
"""

from __future__ import annotations

import hmac

from auc.errors import AutsError
from auc.milenage import Milenage

__all__ = [
    "AUTS_LEN",
    "DEFAULT_IND_BITS",
    "SQN_BITS",
    "SQN_MAX",
    "make_sqn",
    "next_seq_after_resync",
    "resync",
    "split_sqn",
    "sqn_bytes",
    "sqn_from_bytes",
]

SQN_BITS = 48
SQN_MAX = (1 << SQN_BITS) - 1
DEFAULT_IND_BITS = 5  # TS 33.102 Annex C.1.1 / C.3.2 example; must match what the USIMs use
AUTS_LEN = 14  # Conc(SQN_MS) (6) || MAC-S (8)
_AMF_RESYNC = b"\x00\x00"  # TS 33.102 §6.3.3: AMF* is the dummy value of all zeros


def _check_ind_bits(ind_bits: int) -> None:
    if not 0 <= ind_bits < SQN_BITS:
        raise ValueError(f"ind_bits must be in 0..{SQN_BITS - 1}, got {ind_bits}")


def make_sqn(seq: int, ind: int = 0, ind_bits: int = DEFAULT_IND_BITS) -> int:
    """SQN = SEQ || IND (TS 33.102 Annex C.1.1) as a 48-bit int; ValueError if SEQ or IND does not fit."""
    _check_ind_bits(ind_bits)
    if not 0 <= ind < (1 << ind_bits):
        raise ValueError(f"IND must be in 0..{(1 << ind_bits) - 1} for ind_bits={ind_bits}, got {ind}")
    if not 0 <= seq < (1 << (SQN_BITS - ind_bits)):
        raise ValueError(f"SEQ must be in 0..2**{SQN_BITS - ind_bits}-1 for ind_bits={ind_bits}, got {seq}")
    return (seq << ind_bits) | ind


def split_sqn(sqn: int, ind_bits: int = DEFAULT_IND_BITS) -> tuple[int, int]:
    """(SEQ, IND) of a 48-bit SQN (TS 33.102 Annex C.1.1)."""
    _check_ind_bits(ind_bits)
    if not 0 <= sqn <= SQN_MAX:
        raise ValueError(f"SQN must be in 0..2**48-1, got {sqn}")
    return sqn >> ind_bits, sqn & ((1 << ind_bits) - 1)


def sqn_bytes(sqn: int) -> bytes:
    """The 6-byte big-endian form of a 48-bit SQN (as in AUTN and the SQN AVP)."""
    if not 0 <= sqn <= SQN_MAX:
        raise ValueError(f"SQN must be in 0..2**48-1, got {sqn}")
    return sqn.to_bytes(6)


def sqn_from_bytes(b: bytes) -> int:
    """The int of a 6-byte SQN."""
    if len(b) != 6:
        raise ValueError(f"SQN must be 6 bytes, got {len(b)}")
    return int.from_bytes(b)


def resync(k: bytes | Milenage, opc: bytes | None, rand: bytes, auts: bytes) -> int:
    """SQN_MS from an AUTS (TS 33.102 §6.3.5): SQN_MS = AUTS[0:6] xor f5*_K(RAND), then MAC-S = AUTS[6:14] is
    checked against f1*_K(SQN_MS || RAND || 0x0000). Raises AutsError if it does not verify. `rand` is the RAND
    of the challenge the USIM rejected (sent back with the AUTS in Re-Synchronization-Info). `k` may be a ready
    `Milenage` (then `opc` is None)."""
    if len(auts) != AUTS_LEN:
        raise ValueError(f"AUTS must be {AUTS_LEN} bytes, got {len(auts)}")
    if isinstance(k, Milenage):
        if opc is not None:
            raise ValueError("pass opc=None with a ready Milenage (it already holds OPc)")
        m = k
    else:
        if opc is None:
            raise ValueError("OPc is required with a raw K")
        m = Milenage(k, opc)
    ak_star = m.f5star(rand)
    sqn_ms = (int.from_bytes(auts[:6]) ^ int.from_bytes(ak_star)).to_bytes(6)
    xmac_s = m.f1star(rand, sqn_ms, _AMF_RESYNC)
    if not hmac.compare_digest(xmac_s, auts[6:]):
        raise AutsError("AUTS rejected: MAC-S does not verify (TS 33.102 §6.3.5)")
    return int.from_bytes(sqn_ms)


def next_seq_after_resync(sqn_ms: int, ind_bits: int = DEFAULT_IND_BITS) -> int:
    """The SEQ the HSS continues from after a verified resync: SEQ_MS + 1 (TS 33.102 §6.3.5, Annex C.3).

    Any SQN built from it, whatever its IND, is above every SEQ the USIM has accepted and within its Δ window
    (§6.3.5: the HE resets SQN_HE from SQN_MS when its own next SQN would not be accepted)."""
    seq_ms, _ = split_sqn(sqn_ms, ind_bits)
    nxt = seq_ms + 1
    if nxt >= (1 << (SQN_BITS - ind_bits)):
        raise ValueError(f"SEQ space exhausted: SEQ_MS is the largest {SQN_BITS - ind_bits}-bit value")
    return nxt
