"""KDF and KASME (TS 33.220 Annex B.2, TS 33.401 Annex A.2), PLMN ids, SQN = SEQ || IND and resynchronisation."""

from __future__ import annotations

import hashlib
import hmac
import os
import tomllib
from pathlib import Path
from typing import Any

import pytest

from auc import (
    AucError,
    AutsError,
    Milenage,
    kasme,
    kdf,
    make_sqn,
    next_seq_after_resync,
    parse_plmn_id,
    plmn_id,
    plmn_id_from_string,
    resync,
    split_sqn,
    sqn_bytes,
    sqn_from_bytes,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
KASME: list[dict[str, Any]] = tomllib.loads((VECTORS / "kasme.toml").read_text())["kasme"]
RESYNC: list[dict[str, Any]] = tomllib.loads((VECTORS / "resync.toml").read_text())["resync"]

h = bytes.fromhex


def _xor(a: bytes, b: bytes) -> bytes:
    return bytes(x ^ y for x, y in zip(a, b, strict=True))


# -- KASME ---------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("v", KASME, ids=lambda v: v["source"].split()[0])
def test_kasme_vectors(v: dict[str, Any]) -> None:
    sn_id = plmn_id(v["mcc"], v["mnc"])
    assert sn_id.hex() == v["sn_id"]
    assert parse_plmn_id(sn_id) == (v["mcc"], v["mnc"])
    concealed = _xor(h(v["sqn"]), h(v["ak"]))
    assert kasme(h(v["ck"]), h(v["ik"]), sn_id, concealed).hex() == v["kasme"]
    assert kdf(h(v["ck"]) + h(v["ik"]), 0x10, sn_id, concealed).hex() == v["kasme"]
    # independent: S spelled out byte by byte, HMAC through hmac.new
    s = b"\x10" + sn_id + b"\x00\x03" + concealed + b"\x00\x06"
    assert hmac.new(h(v["ck"]) + h(v["ik"]), s, hashlib.sha256).hexdigest() == v["kasme"]


def test_kdf_layout() -> None:
    key = bytes(range(32))
    s = b"\x6a" + b"ab" + b"\x00\x02" + b"" + b"\x00\x00" + bytes(300) + b"\x01\x2c"
    assert kdf(key, 0x6A, b"ab", b"", bytes(300)) == hmac.new(key, s, hashlib.sha256).digest()
    assert kdf(key, 0x10) == hmac.new(key, b"\x10", hashlib.sha256).digest()
    with pytest.raises(ValueError, match="FC"):
        kdf(key, 256)
    with pytest.raises(ValueError, match="P1"):
        kdf(key, 1, b"", bytes(65536))


@pytest.mark.parametrize(
    ("args", "what"),
    [
        ((bytes(15), bytes(16), bytes(3), bytes(6)), "CK"),
        ((bytes(16), bytes(17), bytes(3), bytes(6)), "IK"),
        ((bytes(16), bytes(16), bytes(2), bytes(6)), "serving network id"),
        ((bytes(16), bytes(16), bytes(3), bytes(8)), "SQN xor AK"),
    ],
)
def test_kasme_checks_lengths(args: tuple[bytes, bytes, bytes, bytes], what: str) -> None:
    with pytest.raises(ValueError, match=what):
        kasme(*args)


# -- PLMN id -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mcc", "mnc", "encoded"),
    [
        ("001", "01", "00f110"),  # test PLMN, 2-digit MNC: MNC digit 3 nibble is F
        ("310", "410", "130014"),  # 3-digit MNC
        ("262", "01", "62f210"),
        ("999", "999", "999999"),
        ("208", "034", "024830"),
    ],
)
def test_plmn_id_round_trip(mcc: str, mnc: str, encoded: str) -> None:
    assert plmn_id(mcc, mnc).hex() == encoded
    assert parse_plmn_id(h(encoded)) == (mcc, mnc)
    assert plmn_id_from_string(mcc + mnc).hex() == encoded


@pytest.mark.parametrize(
    ("mcc", "mnc"), [("01", "01"), ("0011", "01"), ("001", "1"), ("001", "1234"), ("00a", "01"), ("001", "0x")]
)
def test_plmn_id_rejects_bad_digits(mcc: str, mnc: str) -> None:
    with pytest.raises(ValueError, match="MCC|MNC"):
        plmn_id(mcc, mnc)


def test_parse_plmn_id_rejects_bad_input() -> None:
    for bad in ("00f1", "00f11000", "0af110", "00e110"):
        with pytest.raises(ValueError, match="PLMN id"):
            parse_plmn_id(h(bad))
    with pytest.raises(ValueError, match="MCCMNC"):
        plmn_id_from_string("0010")


# -- SQN -----------------------------------------------------------------------------------------------------------


def test_make_and_split_sqn() -> None:
    assert make_sqn(1, 10) == 42  # TS 33.102 Annex C.1.1 with the default 5-bit IND
    assert split_sqn(42) == (1, 10)
    assert make_sqn(7, 0, ind_bits=0) == 7 and split_sqn(7, ind_bits=0) == (7, 0)
    assert make_sqn((1 << 43) - 1, 31) == (1 << 48) - 1
    assert split_sqn((1 << 48) - 1, ind_bits=10) == ((1 << 38) - 1, 1023)
    for seq, ind, bits in [(3, 5, 4), (123456, 1000, 10), (0, 0, 0), (1, 1, 1)]:
        assert split_sqn(make_sqn(seq, ind, bits), bits) == (seq, ind)


@pytest.mark.parametrize(
    "call",
    [
        lambda: make_sqn(0, 32),
        lambda: make_sqn(0, 1, ind_bits=0),
        lambda: make_sqn(0, -1),
        lambda: make_sqn(1 << 43, 0),
        lambda: make_sqn(-1, 0),
        lambda: make_sqn(0, 0, ind_bits=48),
        lambda: split_sqn(1 << 48),
        lambda: split_sqn(-1),
        lambda: sqn_bytes(1 << 48),
        lambda: sqn_from_bytes(bytes(5)),
    ],
)
def test_sqn_bounds(call: Any) -> None:
    with pytest.raises(ValueError):
        call()


def test_sqn_bytes() -> None:
    assert sqn_bytes(0xFF9BB4D0B607) == h("ff9bb4d0b607")
    assert sqn_bytes(0) == bytes(6)
    assert sqn_from_bytes(h("0000000012d9")) == 0x12D9


def test_next_seq_after_resync() -> None:
    assert next_seq_after_resync(31) == 1  # SEQ_MS 0 (IND 31) -> continue from SEQ 1
    assert next_seq_after_resync(31, ind_bits=0) == 32
    assert next_seq_after_resync(make_sqn(1000, 7)) == 1001
    with pytest.raises(ValueError, match="exhausted"):
        next_seq_after_resync((1 << 48) - 1)


# -- resynchronisation ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("v", RESYNC, ids=lambda v: f"{v['source'].split()[0]}-{v['auts'][:6]}")
def test_resync_vectors(v: dict[str, Any]) -> None:
    k, opc_, rand, auts = h(v["k"]), h(v["opc"]), h(v["rand"]), h(v["auts"])
    got = resync(k, opc_, rand, auts)
    assert resync(Milenage(k, opc_), None, rand, auts) == got
    if "sqn_ms" in v:
        assert got == v["sqn_ms"]
    for ind_bits, ind, next_sqn in v.get("next", []):
        assert make_sqn(next_seq_after_resync(got, ind_bits), ind, ind_bits) == next_sqn


@pytest.mark.parametrize("bit", range(14 * 8))
def test_resync_rejects_any_flipped_bit(bit: int) -> None:
    v = RESYNC[0]
    auts = bytearray(h(v["auts"]))
    auts[bit // 8] ^= 0x80 >> (bit % 8)
    with pytest.raises(AutsError, match="MAC-S"):
        resync(h(v["k"]), h(v["opc"]), h(v["rand"]), bytes(auts))


def test_resync_rejects_wrong_rand_and_bad_lengths() -> None:
    v = RESYNC[0]
    with pytest.raises(AutsError):
        resync(h(v["k"]), h(v["opc"]), b"\x01" + bytes(15), h(v["auts"]))
    with pytest.raises(ValueError, match="AUTS must be 14 bytes"):
        resync(h(v["k"]), h(v["opc"]), h(v["rand"]), bytes(13))
    with pytest.raises(ValueError, match="RAND must be 16 bytes"):
        resync(h(v["k"]), h(v["opc"]), bytes(8), bytes(14))
    assert issubclass(AutsError, AucError) and issubclass(AutsError, ValueError)


def test_the_two_call_hmac_is_hmac_sha256():
    from auc.kdf import _hmac_sha256_k32
    for n in (0, 1, 14, 31, 32, 55, 56, 64, 65, 200):
        key, msg = os.urandom(32), os.urandom(n)
        assert _hmac_sha256_k32(key, msg) == hmac.digest(key, msg, "sha256")
