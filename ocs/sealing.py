"""Keys at rest: AES-256-GCM sealing of subscriber secrets (K, OPc) with a key file the operator holds.

A sealed value is MAGIC (4) || key id (8) || nonce (12) || ciphertext || tag (16). The key id is a short hash
of the key that sealed it, so a value sealed under another key file is recognised without trying it (the AuC
drops a Redis cache made under another key and reloads it from PostgreSQL). Values of the previous version,
nonce || ciphertext || tag without the id, still open. The associated data binds a value to its row and field
(e.g. b"k:001010000000001"), so a sealed K cannot be moved to another subscriber or passed off as an OPc.

The key file must be readable by its owner only (like ssh's private keys): a file that group or others may
read or write is refused, with the `chmod 600` that fixes it.
Pure: no I/O beyond reading the key file when asked.
"""

from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import Protocol

from Crypto.Cipher import AES

NONCE_LENGTH = 12
TAG_LENGTH = 16
KEY_LENGTH = 32
KEY_ID_LENGTH = 8
MAGIC = b"\xa5sk1"  # a sealed value that names its key (the previous layout starts with the random nonce)
_HEADER_LENGTH = len(MAGIC) + KEY_ID_LENGTH
# Demo mode only: a fixed, published key, so a demo runs without a key file. Never for real subscribers.
DEMO_KEY = bytes.fromhex("6f637364 2d64656d 6f2d6b65 792d6e6f 742d666f 722d7072 6f647563 74696f6e".replace(" ", ""))


class SealingError(Exception):
    pass


class KeyMismatch(SealingError):
    """The value was sealed under another key (its key id is not ours)."""

    def __init__(self, sealed_by: bytes, ours: bytes) -> None:
        super().__init__(f"sealed value was sealed under key {sealed_by.hex()}, this key file is "
                         f"{ours.hex()} (a cache or copy made with another key file)")
        self.sealed_by = sealed_by
        self.ours = ours


def key_id(key: bytes) -> bytes:
    """A short public name of a key: the first 8 octets of SHA-256 over a label and the key."""
    return hashlib.sha256(b"ocsd sealing key id\0" + key).digest()[:KEY_ID_LENGTH]


def sealed_by(sealed: bytes) -> bytes | None:
    """The key id a sealed value names, or None for a value of the previous layout (no id)."""
    if len(sealed) >= _HEADER_LENGTH + NONCE_LENGTH + TAG_LENGTH and sealed.startswith(MAGIC):
        return sealed[len(MAGIC):_HEADER_LENGTH]
    return None


def _read_private(path: str | Path) -> bytes:
    """The key file's bytes; refused when group or others have any access to it (as ssh refuses a private
    key file that is too open). Checked on the open file, so the file read is the file checked."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError as e:
        raise SealingError(f"cannot read the key file {path}: {e.strerror}") from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise SealingError(f"the key file {path} is not a regular file")
        if mode & 0o077:
            raise SealingError(f"the key file {path} is accessible by group or others (mode "
                               f"{stat.S_IMODE(mode):04o}): it must be readable by its owner only; "
                               f"run `chmod 600 {path}`")
        chunks = []
        while chunk := os.read(fd, 4096):
            chunks.append(chunk)
        return b"".join(chunks)
    finally:
        os.close(fd)


class Sealer:
    __slots__ = ("_key", "key_id")

    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_LENGTH:
            raise SealingError(f"the sealing key must be {KEY_LENGTH} octets, got {len(key)}")
        self._key = key
        self.key_id = key_id(key)

    def __repr__(self) -> str:
        return f"Sealer(key=***, key_id={self.key_id.hex()})"

    @classmethod
    def from_file(cls, path: str | Path) -> Sealer:
        """The key file holds 64 hex digits (whitespace ignored) or 32 raw octets; mode 0600 or 0400."""
        raw = _read_private(path)
        text = b"".join(raw.split())
        try:
            key = bytes.fromhex(text.decode()) if len(text) == 2 * KEY_LENGTH else raw
        except (UnicodeDecodeError, ValueError):
            key = raw
        return cls(key)

    def seal(self, plaintext: bytes, associated: bytes, nonce: bytes | None = None) -> bytes:
        nonce = nonce if nonce is not None else os.urandom(NONCE_LENGTH)
        return MAGIC + self.key_id + self._gcm(nonce, associated, plaintext)

    def _gcm(self, nonce: bytes, associated: bytes, plaintext: bytes) -> bytes:
        cipher = AES.new(self._key, AES.MODE_GCM, nonce=nonce)
        cipher.update(associated)
        ciphertext, tag = cipher.encrypt_and_digest(plaintext)
        return nonce + ciphertext + tag

    def open(self, sealed: bytes, associated: bytes) -> bytes:
        """The plaintext; KeyMismatch when the value names another key, SealingError when it does not open."""
        kid = sealed_by(sealed)
        if kid is None:
            return self._open(sealed, associated)  # the previous layout: no key id
        if kid == self.key_id:
            return self._open(sealed[_HEADER_LENGTH:], associated)
        try:  # one chance in 2^32: an old value whose random nonce starts with MAGIC
            return self._open(sealed, associated)
        except SealingError:
            raise KeyMismatch(kid, self.key_id) from None

    def _open(self, body: bytes, associated: bytes) -> bytes:
        if len(body) < NONCE_LENGTH + TAG_LENGTH:
            raise SealingError("sealed value too short")
        nonce, ciphertext, tag = body[:NONCE_LENGTH], body[NONCE_LENGTH:-TAG_LENGTH], body[-TAG_LENGTH:]
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
