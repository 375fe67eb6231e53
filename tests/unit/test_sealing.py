"""Keys at rest (issue 14 point 6): the key file must be private to its owner, and sealed values name the key
that sealed them while values of the previous layout (no key id) still open."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from Crypto.Cipher import AES

from ocs.sealing import (
    DEMO_KEY,
    MAGIC,
    KeyMismatch,
    Sealer,
    SealingError,
    generate_key_file,
    key_id,
    sealed_by,
)

AAD = b"k:001010000000001"


def legacy_seal(key: bytes, plaintext: bytes, associated: bytes) -> bytes:
    """The layout of the previous version: nonce || ciphertext || tag, no key id."""
    nonce = os.urandom(12)
    cipher = AES.new(key, AES.MODE_GCM, nonce=nonce)
    cipher.update(associated)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    return nonce + ciphertext + tag


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys.bin"
    generate_key_file(path)
    return path


@pytest.mark.parametrize("mode", [0o600, 0o400])
def test_a_private_key_file_is_read(key_file: Path, mode: int) -> None:
    key_file.chmod(mode)
    sealer = Sealer.from_file(key_file)
    assert sealer.open(sealer.seal(b"secret", AAD), AAD) == b"secret"


@pytest.mark.parametrize("mode", [0o640, 0o644, 0o604, 0o660, 0o620, 0o606])
def test_a_key_file_group_or_others_may_touch_is_refused(key_file: Path, mode: int) -> None:
    key_file.chmod(mode)
    with pytest.raises(SealingError) as e:
        Sealer.from_file(key_file)
    message = str(e.value)
    assert str(key_file) in message and f"chmod 600 {key_file}" in message and f"{mode:04o}" in message


def test_a_directory_is_not_a_key_file(tmp_path: Path) -> None:
    tmp_path.chmod(0o700)
    with pytest.raises(SealingError, match="not a regular file"):
        Sealer.from_file(tmp_path)


def test_sealed_values_name_their_key() -> None:
    sealer = Sealer(DEMO_KEY)
    sealed = sealer.seal(b"k" * 16, AAD)
    assert sealed.startswith(MAGIC) and sealed_by(sealed) == sealer.key_id == key_id(DEMO_KEY)
    assert len(sealed) == len(MAGIC) + 8 + 12 + 16 + 16
    assert key_id(bytes(32)) != key_id(DEMO_KEY)
    assert "key=***" in repr(sealer) and DEMO_KEY.hex() not in repr(sealer)


def test_a_value_of_the_previous_layout_still_opens() -> None:
    legacy = legacy_seal(DEMO_KEY, b"opc-value-16-oct", AAD)
    assert sealed_by(legacy) is None
    assert Sealer(DEMO_KEY).open(legacy, AAD) == b"opc-value-16-oct"
    with pytest.raises(SealingError):
        Sealer(DEMO_KEY).open(legacy, b"k:001010000000002")  # still bound to its row


def test_a_value_sealed_under_another_key_is_named_as_such() -> None:
    other = Sealer(bytes(range(32)))
    ours = Sealer(DEMO_KEY)
    with pytest.raises(KeyMismatch) as e:
        ours.open(other.seal(b"x" * 16, AAD), AAD)
    assert (e.value.sealed_by, e.value.ours) == (other.key_id, ours.key_id)
    assert other.key_id.hex() in str(e.value) and ours.key_id.hex() in str(e.value)


def test_a_tampered_value_does_not_open() -> None:
    sealer = Sealer(DEMO_KEY)
    sealed = bytearray(sealer.seal(b"x" * 16, AAD))
    sealed[-1] ^= 1
    with pytest.raises(SealingError) as e:
        sealer.open(bytes(sealed), AAD)
    assert not isinstance(e.value, KeyMismatch)


def test_an_old_value_whose_nonce_looks_like_a_key_id_still_opens() -> None:
    """One old value in 2^32 begins with MAGIC by chance; it must open, not be taken for another key's."""
    sealer = Sealer(DEMO_KEY)
    nonce = MAGIC + bytes(range(8))
    cipher = AES.new(DEMO_KEY, AES.MODE_GCM, nonce=nonce)
    cipher.update(AAD)
    ciphertext, tag = cipher.encrypt_and_digest(b"k" * 16)
    legacy = nonce + ciphertext + tag
    assert sealed_by(legacy) == bytes(range(8)) != sealer.key_id
    assert sealer.open(legacy, AAD) == b"k" * 16
