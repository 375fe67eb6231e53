"""The 3GPP key derivation function and KASME, and the PLMN identity encoding that feeds it.

- `kdf`: the generic KDF of TS 33.220 Annex B.2: HMAC-SHA-256(Key, S), S = FC || P0 || L0 || P1 || L1 || ...
- `kasme`: TS 33.401 Annex A.2: Key = CK || IK, FC = 0x10, P0 = serving network id (the PLMN id, 3 bytes),
  P1 = SQN xor AK (6 bytes).
- `plmn_id` / `parse_plmn_id`: TS 24.008 §10.5.1.3 (and TS 29.272 §7.3.9 Visited-PLMN-Id, which uses it):
  octet 1 = MCC digit 2 | MCC digit 1, octet 2 = MNC digit 3 | MCC digit 3, octet 3 = MNC digit 2 | MNC digit 1
  (high nibble | low nibble); a 2-digit MNC puts 0xF in the MNC digit 3 nibble.
"""

from __future__ import annotations

import hmac
from hashlib import sha256

__all__ = [
    "FC_KASME",
    "KASME_LEN",
    "PLMN_ID_LEN",
    "kasme",
    "kdf",
    "parse_plmn_id",
    "plmn_id",
    "plmn_id_from_string",
]

FC_KASME = 0x10  # TS 33.401 Annex A.2
KASME_LEN = 32
PLMN_ID_LEN = 3

_L_SN_ID = b"\x00\x03"  # L0: length of the serving network id
_L_SQN_AK = b"\x00\x06"  # L1: length of SQN xor AK

# RFC 2104 §2 HMAC pads: the key (at most the 64-octet block of SHA-256) xor ipad / opad, as translate tables
_IPAD = bytes(x ^ 0x36 for x in range(256))
_OPAD = bytes(x ^ 0x5C for x in range(256))
_ZEROS32 = bytes(32)


def _hmac_sha256_k32(key: bytes, msg: bytes) -> bytes:
    """HMAC-SHA-256 (RFC 2104) of a 32-octet key (CK || IK), with two SHA-256 calls: hmac.digest goes through
    OpenSSL 3's EVP_Q_mac, whose per-call algorithm fetch cost 3% of the daemon's instructions per AIR."""
    k = key + _ZEROS32  # zero-padded to the block size (RFC 2104 §2 step 1)
    return sha256(k.translate(_OPAD) + sha256(k.translate(_IPAD) + msg).digest()).digest()


def kdf(key: bytes, fc: int, *params: bytes) -> bytes:
    """TS 33.220 Annex B.2 KDF: HMAC-SHA-256(key, FC || P0 || L0 || ... || Pn || Ln); each Li is 2 bytes big-endian."""
    if not 0 <= fc <= 0xFF:
        raise ValueError(f"FC must be one byte (0..255), got {fc}")
    parts = [bytes((fc,))]
    for i, p in enumerate(params):
        if len(p) > 0xFFFF:
            raise ValueError(f"KDF parameter P{i} is {len(p)} bytes; at most 65535 fit its 2-byte length")
        parts.append(p)
        parts.append(len(p).to_bytes(2))
    return hmac.digest(key, b"".join(parts), "sha256")


def kasme(ck: bytes, ik: bytes, serving_network_id: bytes, sqn_xor_ak: bytes) -> bytes:
    """KASME (32 bytes) per TS 33.401 Annex A.2 from CK, IK, the 3-byte SN id (PLMN id) and SQN xor AK (6 bytes)."""
    if len(ck) != 16:
        raise ValueError(f"CK must be 16 bytes, got {len(ck)}")
    if len(ik) != 16:
        raise ValueError(f"IK must be 16 bytes, got {len(ik)}")
    if len(serving_network_id) != PLMN_ID_LEN:
        raise ValueError(f"serving network id must be {PLMN_ID_LEN} bytes (PLMN id), got {len(serving_network_id)}")
    if len(sqn_xor_ak) != 6:
        raise ValueError(f"SQN xor AK must be 6 bytes, got {len(sqn_xor_ak)}")
    # S = FC || P0 || L0 || P1 || L1, built inline: this runs once per E-UTRAN vector.
    s = b"\x10" + serving_network_id + _L_SN_ID + sqn_xor_ak + _L_SQN_AK
    return _hmac_sha256_k32(ck + ik, s)


def plmn_id(mcc: str, mnc: str) -> bytes:
    """The 3-byte PLMN id of MCC (3 digits) and MNC (2 or 3 digits), TS 24.008 §10.5.1.3 (Visited-PLMN-Id encoding)."""
    if len(mcc) != 3 or not (mcc.isascii() and mcc.isdigit()):
        raise ValueError(f"MCC must be 3 decimal digits, got {mcc!r}")
    if len(mnc) not in (2, 3) or not (mnc.isascii() and mnc.isdigit()):
        raise ValueError(f"MNC must be 2 or 3 decimal digits, got {mnc!r}")
    m1, m2, m3 = (int(c) for c in mcc)
    n1, n2 = int(mnc[0]), int(mnc[1])
    n3 = int(mnc[2]) if len(mnc) == 3 else 0xF
    return bytes(((m2 << 4) | m1, (n3 << 4) | m3, (n2 << 4) | n1))


def plmn_id_from_string(mccmnc: str) -> bytes:
    """The PLMN id of an "MCCMNC" string of 5 or 6 digits (as in the configuration): "00101" -> 00 f1 10."""
    if len(mccmnc) not in (5, 6):
        raise ValueError(f'PLMN must be an "MCCMNC" string of 5 or 6 digits, got {mccmnc!r}')
    return plmn_id(mccmnc[:3], mccmnc[3:])


def parse_plmn_id(b: bytes) -> tuple[str, str]:
    """(MCC, MNC) of a 3-byte PLMN id (inverse of `plmn_id`); ValueError on a nibble that is not a digit."""
    if len(b) != PLMN_ID_LEN:
        raise ValueError(f"PLMN id must be {PLMN_ID_LEN} bytes, got {len(b)}")
    m1, m2, m3 = b[0] & 0x0F, b[0] >> 4, b[1] & 0x0F
    n3, n1, n2 = b[1] >> 4, b[2] & 0x0F, b[2] >> 4
    if max(m1, m2, m3, n1, n2) > 9 or (n3 > 9 and n3 != 0xF):
        raise ValueError(f"PLMN id {b.hex()} has a nibble that is not a BCD digit")
    mnc = f"{n1}{n2}" if n3 == 0xF else f"{n1}{n2}{n3}"
    return f"{m1}{m2}{m3}", mnc
