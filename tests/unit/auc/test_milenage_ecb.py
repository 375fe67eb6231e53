"""The direct ECB call (issue 15) gives pycryptodome's own AES-ECB output, for every length used and beyond."""

from __future__ import annotations

import os

import pytest
from Crypto.Cipher import AES

from auc.milenage import Milenage, _ecb_encrypt, _EcbEncrypt


def test_the_direct_call_is_used_and_equals_the_public_encrypt():
    k = os.urandom(16)
    fast = _ecb_encrypt(k)
    assert isinstance(fast, _EcbEncrypt)  # the pycryptodome in the venv has the interface
    public = AES.new(k, AES.MODE_ECB)
    for n in (16, 48, 64, 80, 16 * 40, 64):  # 64 twice: a kept buffer is reused, its bytes copied out
        data = os.urandom(n)
        first = fast(data)
        assert first == public.encrypt(data)
        fast(os.urandom(n))
        assert first == public.encrypt(data)  # the earlier result did not change with the buffer


def test_a_partial_block_is_refused():
    with pytest.raises(ValueError):
        _ecb_encrypt(os.urandom(16))(b"x" * 20)


def test_one_vector_and_several_agree():
    m = Milenage(os.urandom(16), os.urandom(16))
    rands = [os.urandom(16) for _ in range(3)]
    sqns = [i.to_bytes(6, "big") for i in (32, 64, 96)]
    amf = b"\x80\x00"
    assert m.vectors(rands, sqns, amf) == [m.vector(r, s, amf) for r, s in zip(rands, sqns, strict=True)]
    assert m.vectors(rands[:1], sqns[:1], amf) == [m.vector(rands[0], sqns[0], amf)]
