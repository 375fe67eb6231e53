"""MILENAGE against the TS 35.208 §4.3 test sets, and the vectors built on it (AUTN, quintuplets, triplets)."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from auc import (
    GeranVector,
    Milenage,
    UmtsVector,
    c2,
    c3,
    generate_eutran_vector,
    generate_eutran_vectors,
    generate_geran_vector,
    generate_umts_vector,
    geran_from_umts,
    kasme,
    opc,
)

VECTORS = Path(__file__).resolve().parents[2] / "vectors"
TEST_SETS: list[dict[str, Any]] = tomllib.loads((VECTORS / "ts35208.toml").read_text())["test_set"]

h = bytes.fromhex


def test_all_six_test_sets_are_there() -> None:
    assert [t["name"] for t in TEST_SETS] == [f"Test Set {n}" for n in range(1, 7)]


@pytest.fixture(params=TEST_SETS, ids=lambda t: t["name"].replace(" ", "-"))
def ts(request: pytest.FixtureRequest) -> dict[str, Any]:
    return dict(request.param)


def test_opc_from_op(ts: dict[str, Any]) -> None:
    assert opc(h(ts["k"]), h(ts["op"])).hex() == ts["opc"]


def test_each_function(ts: dict[str, Any]) -> None:
    m = Milenage(h(ts["k"]), h(ts["opc"]))
    rand, sqn, amf = h(ts["rand"]), h(ts["sqn"]), h(ts["amf"])
    assert m.f1(rand, sqn, amf).hex() == ts["f1"]
    assert m.f1star(rand, sqn, amf).hex() == ts["f1star"]
    assert m.f2(rand).hex() == ts["f2"]
    assert m.f3(rand).hex() == ts["f3"]
    assert m.f4(rand).hex() == ts["f4"]
    assert m.f5(rand).hex() == ts["f5"]
    assert m.f5star(rand).hex() == ts["f5star"]


def test_batched_paths_equal_the_single_functions(ts: dict[str, Any]) -> None:
    m = Milenage.from_op(h(ts["k"]), h(ts["op"]))
    rand, sqn, amf = h(ts["rand"]), h(ts["sqn"]), h(ts["amf"])
    out = m.compute(rand, sqn, amf)
    got = [out.mac_a, out.mac_s, out.res, out.ck, out.ik, out.ak, out.ak_star]
    assert [x.hex() for x in got] == [ts[f] for f in ("f1", "f1star", "f2", "f3", "f4", "f5", "f5star")]
    assert [x.hex() for x in m.f2345(rand)] == [ts["f2"], ts["f3"], ts["f4"], ts["f5"]]
    assert [x.hex() for x in m.vector(rand, sqn, amf)] == [ts["f1"], ts["f2"], ts["f3"], ts["f4"], ts["f5"]]


def test_umts_vector_autn(ts: dict[str, Any]) -> None:
    # AUTN = SQN xor AK || AMF || MAC-A (TS 33.102 §6.3.2)
    sqn = int(ts["sqn"], 16)
    v = generate_umts_vector(h(ts["k"]), h(ts["opc"]), sqn, h(ts["amf"]), h(ts["rand"]))
    concealed = (sqn ^ int(ts["f5"], 16)).to_bytes(6)
    assert v.autn == concealed + h(ts["amf"]) + h(ts["f1"])
    assert (v.rand.hex(), v.xres.hex(), v.ck.hex(), v.ik.hex()) == (ts["rand"], ts["f2"], ts["f3"], ts["f4"])


def test_eutran_vector(ts: dict[str, Any]) -> None:
    sqn = int(ts["sqn"], 16)
    sn_id = h("00f110")
    v = generate_eutran_vector(h(ts["k"]), h(ts["opc"]), sqn, h(ts["amf"]), h(ts["rand"]), sn_id)
    concealed = (sqn ^ int(ts["f5"], 16)).to_bytes(6)
    assert v.autn == concealed + h(ts["amf"]) + h(ts["f1"])
    assert v.xres.hex() == ts["f2"]
    assert v.kasme == kasme(h(ts["f3"]), h(ts["f4"]), sn_id, concealed)
    # a ready Milenage gives the same, and so does the batch form
    m = Milenage(h(ts["k"]), h(ts["opc"]))
    assert generate_eutran_vector(m, None, sqn, h(ts["amf"]), h(ts["rand"]), sn_id) == v
    assert generate_eutran_vectors(m, None, [sqn], h(ts["amf"]), [h(ts["rand"])], sn_id) == [v]


def test_batch_of_vectors_equals_one_by_one() -> None:
    # one AIR asking for several vectors: two AES calls in all, same vectors as one call each
    sn_id = h("62f210")
    rands = [h(t["rand"]) for t in TEST_SETS]
    sqns = [int(t["sqn"], 16) + i for i, t in enumerate(TEST_SETS)]
    t0 = TEST_SETS[0]
    m = Milenage(h(t0["k"]), h(t0["opc"]))
    batch = generate_eutran_vectors(h(t0["k"]), h(t0["opc"]), sqns, h("8000"), rands, sn_id)
    assert batch == [generate_eutran_vector(m, None, s, h("8000"), r, sn_id) for s, r in zip(sqns, rands, strict=True)]
    assert len({v.kasme for v in batch}) == len(batch)
    assert m.vectors([], [], h("8000")) == []
    with pytest.raises(ValueError, match="one RAND per SQN"):
        m.vectors(rands, [], h("8000"))
    with pytest.raises(ValueError, match="RAND must be 16 bytes"):
        m.vectors([bytes(3)], [bytes(6)], h("8000"))


# osmocom/libosmocore tests/auth/milenage_test.c / milenage_test.ok: K = OPc = 00..0f, RAND = 0, AMF = 0000,
# SQN 34 (the source's sqn 0x21 plus one), with the triplet derived by c2/c3.
OSMO_K = bytes(range(16))


def test_osmocom_quintuplet_and_triplet() -> None:
    v = generate_umts_vector(OSMO_K, OSMO_K, 34, b"\x00\x00", bytes(16))
    assert v.autn.hex() == "ec9320c2c2120000c8b7de2a3449f1bd"
    assert v.ik.hex() == "12cb2dd3e0ec8378f6fc1d606c619f47"
    assert v.ck.hex() == "7200a184d8f2c758fbdf87900ddbf275"
    assert v.xres.hex() == "e9fc88ccc8a35381"
    g = geran_from_umts(v)
    assert (g.sres.hex(), g.kc.hex()) == ("215fdb4d", "6de816a759a42912")
    assert generate_geran_vector(OSMO_K, OSMO_K, bytes(16)) == g
    # milenage_test.ok, opc_test(): OPc of this K with OP = 0
    assert opc(OSMO_K, bytes(16)).hex() == "c6a13b37878f5b826f4f8162a1c8d879"


# hostapd tests/test-milenage.c gsm_test_sets (3GPP TS 55.205 Test Sets 1..5 = TS 35.208 Test Sets 1, 3, 4, 5, 6):
# SRES#1 is c2 of the 64-bit RES, Kc is c3.
GSM_MILENAGE = [
    ("Test Set 1", "46f8416a", "eae4be823af9a08b"),
    ("Test Set 3", "8c308a5e", "aa01739b8caa976d"),
    ("Test Set 4", "cfbce3fe", "9a8ec95f408cc507"),
    ("Test Set 5", "9655e265", "cdc1dc0841b81a22"),
    ("Test Set 6", "13688f17", "df75bc5ea899879f"),
]


@pytest.mark.parametrize(("name", "sres", "kc"), GSM_MILENAGE)
def test_gsm_milenage_triplets(name: str, sres: str, kc: str) -> None:
    t = next(t for t in TEST_SETS if t["name"] == name)
    g = generate_geran_vector(h(t["k"]), h(t["opc"]), h(t["rand"]))
    assert (g.sres.hex(), g.kc.hex()) == (sres, kc)
    assert c2(h(t["f2"])).hex() == sres
    assert c3(h(t["f3"]), h(t["f4"])).hex() == kc


def test_c2_pads_short_and_folds_long_xres() -> None:
    # TS 33.102 §6.8.1.2: XRES* = XRES || 0..0 up to 128 bits, then the four 32-bit words are XORed
    assert c2(h("01020304")) == h("01020304")
    assert c2(h("0102030405")) == h("04020304")
    assert c2(h("000000010000000200000004") + h("00000008")) == h("0000000f")
    for bad in (b"", b"abc", bytes(17)):
        with pytest.raises(ValueError, match="XRES"):
            c2(bad)
    with pytest.raises(ValueError, match="CK and IK"):
        c3(bytes(16), bytes(15))


@pytest.mark.parametrize(
    ("call", "what"),
    [
        (lambda: Milenage(bytes(15), bytes(16)), "K must be 16 bytes, got 15"),
        (lambda: Milenage(bytes(16), bytes(17)), "OPc must be 16 bytes, got 17"),
        (lambda: opc(bytes(16), bytes(8)), "OP must be 16 bytes"),
        (lambda: Milenage(bytes(16), bytes(16)).f2(bytes(15)), "RAND must be 16 bytes"),
        (lambda: Milenage(bytes(16), bytes(16)).f1(bytes(16), bytes(5), bytes(2)), "SQN must be 6 bytes"),
        (lambda: Milenage(bytes(16), bytes(16)).f1star(bytes(16), bytes(6), bytes(3)), "AMF must be 2 bytes"),
        (lambda: generate_umts_vector(bytes(16), bytes(16), 1 << 48, bytes(2), bytes(16)), "SQN must be in"),
        (lambda: generate_umts_vector(bytes(16), bytes(16), -1, bytes(2), bytes(16)), "SQN must be in"),
        (lambda: generate_eutran_vector(bytes(16), bytes(16), 1, bytes(2), bytes(16), bytes(4)), "serving network"),
        (lambda: generate_eutran_vectors(bytes(16), bytes(16), [1, 2], bytes(2), [bytes(16)], bytes(3)), "one RAND"),
        (lambda: generate_umts_vector(bytes(16), None, 1, bytes(2), bytes(16)), "OPc is required"),
        (lambda: generate_umts_vector(Milenage(bytes(16), bytes(16)), bytes(16), 1, bytes(2), bytes(16)), "opc=None"),
    ],
)
def test_bad_lengths_are_value_errors(call: Any, what: str) -> None:
    with pytest.raises(ValueError, match=what):
        call()


def test_reprs_hide_key_material() -> None:
    t = TEST_SETS[0]
    m = Milenage(h(t["k"]), h(t["opc"]))
    assert t["k"] not in repr(m) and t["opc"] not in repr(m)
    v = generate_umts_vector(m, None, int(t["sqn"], 16), h(t["amf"]), h(t["rand"]))
    e = generate_eutran_vector(m, None, int(t["sqn"], 16), h(t["amf"]), h(t["rand"]), h("00f110"))
    g = geran_from_umts(v)
    out = m.compute(h(t["rand"]), h(t["sqn"]), h(t["amf"]))
    text = repr(v) + repr(e) + repr(g) + repr(out)
    for secret in (v.ck, v.ik, v.xres, e.kasme, g.kc, g.sres, out.ak, out.ak_star):
        assert secret.hex() not in text and repr(secret) not in text
    assert isinstance(v, UmtsVector) and isinstance(g, GeranVector)


def test_vectors_are_frozen() -> None:
    v = generate_umts_vector(OSMO_K, OSMO_K, 34, b"\x00\x00", bytes(16))
    with pytest.raises(AttributeError):
        v.xres = b""  # type: ignore[misc]
