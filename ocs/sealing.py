"""Keys at rest: AES-256-GCM sealing of subscriber secrets (K, OPc) with a key file the operator holds.

A sealed value is nonce (12) || ciphertext || tag (16). The associated data binds it to its row and field
(e.g. b"k:001010000000001"), so a sealed K cannot be moved to another subscriber or passed off as an OPc.
Pure: no I/O beyond reading the key file when asked.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from Crypto.Cipher import AES

NONCE_LENGTH = 12
TAG_LENGTH = 16
KEY_LENGTH = 32
# Demo mode only: a fixed, published key, so a demo runs without a key file. Never for real subscribers.
DEMO_KEY = bytes.fromhex("6f637364 2d64656d 6f2d6b65 792d6e6f 742d666f 722d7072 6f647563 74696f6e".replace(" ", ""))


class SealingError(Exception):
    pass


class Sealer:
    __slots__ = ("_key",)

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LENGTH:
            raise SealingError(f"the sealing key must be {KEY_LENGTH} octets, got {len(key)}")
        self._key = key

    def __repr__(self) -> str:
        return "Sealer(key=***)"

    @classmethod
    def from_file(cls, path: str | Path) -> Sealer:
        """The key file holds 64 hex digits (whitespace ignored) or 32 raw octets."""
        try:
            raw = Path(path).read_bytes()
        except OSError as e:
            raise SealingError(f"cannot read the key file {path}: {e.strerror}") from None
        text = b"".join(raw.split())
        try:
            key = bytes.fromhex(text.decode()) if len(text) == 2 * KEY_LENGTH else raw
        except (UnicodeDecodeError, ValueError):
            key = raw
        return cls(key)

    def seal(self, plaintext: bytes, associated: bytes, nonce: bytes | None = None) -> bytes:
        nonce = nonce if nonce is not None else os.urandom(NONCE_LENGTH)
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(associated)
        ciphertext, tag = cipher.encrypt_and_digest(plaintext)
        return nonce + ciphertext + tag

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        if len(sealed) < NONCE_LENGTH + TAG_LENGTH:
            raise SealingError("sealed value too short")
        nonce, ciphertext, tag = sealed[:NONCE_LENGTH], sealed[NONCE_LENGTH:-TAG_LENGTH], sealed[-TAG_LENGTH:]
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(associated)
        try:
            return bytes(cipher.decrypt_and_verify(ciphertext, tag))
        except ValueError:
            raise SealingError("sealed value does not open with this key (wrong key file, or tampered)") from None


def generate_key_file(path: str | Path) -> None:
    """Write a new random key as hex, readable by the owner only (refuses to overwrite a file)."""
    p = Path(path)
    fd = os.open(p, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(os.urandom(KEY_LENGTH).hex() + "\n")


class KeySource(Protocol):
    """The `[keys]` section of the configuration (ocs.config.KeysConfig)."""

    @property
    def file(self) -> str | None: ...

    @property
    def demo(self) -> bool: ...


def sealer_for(keys: KeySource) -> Sealer:
    """The sealer the configuration names: the key file, else the public demo key when `demo = true`.

    Without either the daemon and the CLI refuse to touch subscriber keys (issue: keys at rest are encrypted)."""
    if keys.file is not None:
        return Sealer.from_file(keys.file)
    if keys.demo:
        return Sealer(DEMO_KEY)
    raise SealingError("keys.file: no key file configured (make one with `ocsd keys generate FILE`); "
                       "set keys.demo = true only for a loopback demo")
