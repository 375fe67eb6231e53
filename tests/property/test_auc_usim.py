"""Hypothesis: the HSS side (`auc`) against a test-side USIM that follows TS 33.102.

The USIM below has its own MILENAGE (bytes and one AES call per block, written straight from TS 35.206 §4.1) and its
own KASME computation, so it shares no code with `auc` beyond AES itself. It keeps the highest accepted SEQ per IND
and checks freshness as in TS 33.102 Annex C.2.2 (SEQ > SEQ_MS[IND], and SEQ - SEQ_MS <= Δ with Δ = 2^28); a stale
or far-ahead SQN gives AUTS = (SQN_MS xor f5*(RAND)) || f1*(SQN_MS || RAND || 0x0000) (TS 33.102 §6.3.3).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auc import (
    AutsError,
    generate_eutran_vector,
    generate_umts_vector,
    geran_from_umts,
    make_sqn,
    next_seq_after_resync,
    plmn_id,
    resync,
)
from tests.support.usim import DELTA, IND_BITS, Accepted, MacFailure, RefMilenage, SyncFailure, Usim, usim_kasme, xor

SEQ_MAX = (1 << (48 - IND_BITS)) - 1


keys = st.binary(min_size=16, max_size=16)
rands = st.binary(min_size=16, max_size=16)
amfs = st.binary(min_size=2, max_size=2)
inds = st.integers(0, (1 << IND_BITS) - 1)
mccs = st.from_regex(r"\A[0-9]{3}\Z")
mncs = st.from_regex(r"\A[0-9]{2,3}\Z")


def test_reference_milenage_matches_ts35208_test_set_1() -> None:
    h = bytes.fromhex
    m = RefMilenage(h("465b5ce8b199b49faa5f0a2ee238a6bc"), h("cd63cb71954a9f4e48a5994e37a02baf"))
    rand, sqn, amf = h("23553cbe9637a89d218ae64dae47bf35"), h("ff9bb4d0b607"), h("b9b9")
    assert m.f1(rand, sqn, amf).hex() == "4a9ffac354dfafb3"
    assert m.f1star(rand, sqn, amf).hex() == "01cfaf9ec4e871e9"
    assert (m.f2(rand).hex(), m.f5(rand).hex(), m.f5star(rand).hex()) == ("a54211d5e3ba50bf", "aa689c648370",
                                                                           "451e8beca43b")
    assert (m.f3(rand).hex(), m.f4(rand).hex()) == ("b40ba9a3c58b2a05bbf0d987b21bf8cb",
                                                    "f769bcd751044604127672711c6d3441")


@settings(max_examples=100, deadline=None)
@given(k=keys, opc=keys, seq=st.integers(1, DELTA), ind=inds, amf=amfs, rand=rands, mcc=mccs, mnc=mncs)
def test_fresh_vector_is_accepted_and_keys_agree(
    k: bytes, opc: bytes, seq: int, ind: int, amf: bytes, rand: bytes, mcc: str, mnc: str
) -> None:
    sqn = make_sqn(seq, ind, IND_BITS)
    sn_id = plmn_id(mcc, mnc)
    umts = generate_umts_vector(k, opc, sqn, amf, rand)
    eutran = generate_eutran_vector(k, opc, sqn, amf, rand, sn_id)
    assert eutran.autn == umts.autn and eutran.xres == umts.xres

    usim = Usim(k, opc)
    got = usim.authenticate(rand, eutran.autn)
    assert isinstance(got, Accepted)
    assert got.sqn == sqn
    assert (got.res, got.ck, got.ik) == (umts.xres, umts.ck, umts.ik)
    # the UE derives KASME from its own CK, IK and the concealed SQN it received (TS 33.401 Annex A.2)
    assert usim_kasme(got.ck, got.ik, sn_id, eutran.autn[:6]) == eutran.kasme
    # GSM triplet from the same quintuplet (TS 33.102 §6.8.1.2 c2, c3)
    geran = geran_from_umts(umts)
    assert geran.sres == xor(got.res[:4], got.res[4:])
    assert geran.kc == xor(xor(got.ck[:8], got.ck[8:]), xor(got.ik[:8], got.ik[8:]))
    # the same AUTN again is a replay: not fresh any more
    assert isinstance(usim.authenticate(rand, eutran.autn), SyncFailure)


@settings(max_examples=100, deadline=None)
@given(
    k=keys, opc=keys, seq=st.integers(1, DELTA), back=st.integers(0, 1000), ind=inds, next_ind=inds,
    amf=amfs, rand1=rands, rand2=rands, rand3=rands,
)
def test_stale_sqn_gives_auts_and_resync_recovers_sqn_ms(
    k: bytes, opc: bytes, seq: int, back: int, ind: int, next_ind: int, amf: bytes,
    rand1: bytes, rand2: bytes, rand3: bytes,
) -> None:
    usim = Usim(k, opc)
    accepted = usim.authenticate(rand1, generate_umts_vector(k, opc, make_sqn(seq, ind), amf, rand1).autn)
    assert isinstance(accepted, Accepted)

    stale = make_sqn(max(0, seq - back), ind)  # SEQ <= SEQ_MS[IND]
    failure = usim.authenticate(rand2, generate_umts_vector(k, opc, stale, amf, rand2).autn)
    assert isinstance(failure, SyncFailure)
    sqn_ms = resync(k, opc, rand2, failure.auts)
    assert sqn_ms == usim.sqn_ms == make_sqn(seq, ind)

    # the HSS continues from SEQ_MS + 1, with any IND, and the USIM accepts
    nxt = make_sqn(next_seq_after_resync(sqn_ms, IND_BITS), next_ind)
    again = usim.authenticate(rand3, generate_umts_vector(k, opc, nxt, amf, rand3).autn)
    assert isinstance(again, Accepted) and again.sqn == nxt


@settings(max_examples=100, deadline=None)
@given(k=keys, opc=keys, ahead=st.integers(DELTA + 1, SEQ_MAX), ind=inds, amf=amfs, rand=rands, rand2=rands)
def test_sqn_too_far_ahead_is_refused_and_resynced(
    k: bytes, opc: bytes, ahead: int, ind: int, amf: bytes, rand: bytes, rand2: bytes
) -> None:
    usim = Usim(k, opc)
    failure = usim.authenticate(rand, generate_umts_vector(k, opc, make_sqn(ahead, ind), amf, rand).autn)
    assert isinstance(failure, SyncFailure)
    sqn_ms = resync(k, opc, rand, failure.auts)
    assert sqn_ms == 0
    nxt = make_sqn(next_seq_after_resync(sqn_ms), ind)
    assert isinstance(usim.authenticate(rand2, generate_umts_vector(k, opc, nxt, amf, rand2).autn), Accepted)


@settings(max_examples=100, deadline=None)
@given(k=keys, opc=keys, sqn_ms=st.integers(0, (1 << 48) - 1), rand=rands, bit=st.integers(0, 14 * 8 - 1))
def test_tampered_auts_is_refused(k: bytes, opc: bytes, sqn_ms: int, rand: bytes, bit: int) -> None:
    usim = Usim(k, opc)
    usim.sqn_ms = sqn_ms
    auts = usim.auts(rand)
    assert resync(k, opc, rand, auts) == sqn_ms
    flipped = bytearray(auts)
    flipped[bit // 8] ^= 0x80 >> (bit % 8)  # a bit of the concealed SQN_MS (bytes 0..5) or of MAC-S (6..13)
    with pytest.raises(AutsError):
        resync(k, opc, rand, bytes(flipped))


@settings(max_examples=100, deadline=None)
@given(k=keys, opc=keys, seq=st.integers(1, DELTA), ind=inds, amf=amfs, rand=rands, bit=st.integers(0, 127))
def test_tampered_autn_fails_the_mac_check(
    k: bytes, opc: bytes, seq: int, ind: int, amf: bytes, rand: bytes, bit: int
) -> None:
    autn = bytearray(generate_umts_vector(k, opc, make_sqn(seq, ind), amf, rand).autn)
    autn[bit // 8] ^= 0x80 >> (bit % 8)
    usim = Usim(k, opc)
    assert isinstance(usim.authenticate(rand, bytes(autn)), MacFailure)
    assert usim.seq_ms == [0] * (1 << IND_BITS) and usim.sqn_ms == 0
