"""Sealed values: AES-256-GCM with a random 96-bit nonce and associated data that binds the
value to its owner, table, row, column and key version.

Layout of a sealed value: ``b"ad1"`` · key version (4 bytes, big-endian) · nonce (12 bytes) ·
ciphertext with its 16-byte tag. A value moved to another row, column or user, or sealed
under another key, fails to open instead of decrypting to the wrong thing.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"ad1"
NONCE_BYTES = 12
KEY_BYTES = 32
_HEADER = len(MAGIC) + 4


class SealError(Exception):
    """A sealed value is damaged, forged, or opened with the wrong key or context."""


@dataclass(frozen=True)
class Binding:
    """Where a sealed value belongs; becomes the associated data."""

    user_id: int
    table: str
    row: str
    column: str

    def associated_data(self, version: int) -> bytes:
        return f"afterdark|{self.user_id}|{self.table}|{self.row}|{self.column}|{version}".encode()


def new_key() -> bytes:
    """A fresh random 256-bit key."""
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def seal(key: bytes, version: int, plaintext: bytes, binding: Binding) -> bytes:
    """Encrypt and authenticate ``plaintext`` for ``binding`` under key ``version``."""
    nonce = os.urandom(NONCE_BYTES)
    sealed = AESGCM(key).encrypt(nonce, plaintext, binding.associated_data(version))
    return MAGIC + struct.pack(">I", version) + nonce + sealed


def key_version(blob: bytes) -> int:
    """The key version a sealed value was made with."""
    if len(blob) < _HEADER + NONCE_BYTES + 16 or not blob.startswith(MAGIC):
        raise SealError("not a sealed value")
    return int(struct.unpack_from(">I", blob, len(MAGIC))[0])


def open_sealed(key: bytes, blob: bytes, binding: Binding) -> bytes:
    """The plaintext of a sealed value; SealError when it does not belong or was changed."""
    version = key_version(blob)
    nonce = blob[_HEADER : _HEADER + NONCE_BYTES]
    try:
        return AESGCM(key).decrypt(
            nonce, blob[_HEADER + NONCE_BYTES :], binding.associated_data(version)
        )
    except InvalidTag:
        raise SealError(
            f"sealed value for {binding.table}.{binding.column} does not open"
        ) from None
