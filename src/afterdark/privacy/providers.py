"""Key-encryption keys: the KeyProvider Protocol and the local implementation.

A KeyProvider wraps and unwraps users' data keys; it never sees user data. The local one
holds a 256-bit key-encryption key (KEK) from configuration: ``privacy.kek`` (base64, e.g.
from the environment) or ``privacy.kek_file``; in development a KEK is generated into the
data folder when neither is set. A KMS or Vault plugs in through the same two methods,
registered under the ``afterdark.key_providers`` entry-point group.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from pathlib import Path
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from afterdark.config import ConfigError, Settings
from afterdark.privacy.cipher import KEY_BYTES, NONCE_BYTES, SealError


@runtime_checkable
class KeyProvider(Protocol):
    """Wraps data keys under a key-encryption key identified by ``key_id``."""

    key_id: str

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        """Encrypt a data key; ``context`` (the owner and version) must match on unwrap."""
        ...

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        """Decrypt a data key wrapped by this provider; SealError when it does not open."""
        ...


class LocalKeyProvider:
    """AES-256-GCM key wrapping under a KEK held in memory."""

    def __init__(self, kek: bytes) -> None:
        if len(kek) != KEY_BYTES:
            raise ValueError(f"the key-encryption key must be {KEY_BYTES} bytes")
        self._aead = AESGCM(kek)
        # Names the KEK without revealing it, so rows record which KEK wrapped them.
        self.key_id = "local:" + hashlib.sha256(b"afterdark-kek-id" + kek).hexdigest()[:16]

    def wrap(self, data_key: bytes, context: bytes) -> bytes:
        nonce = os.urandom(NONCE_BYTES)
        return nonce + self._aead.encrypt(nonce, data_key, context)

    def unwrap(self, wrapped: bytes, context: bytes) -> bytes:
        try:
            return self._aead.decrypt(wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], context)
        except InvalidTag:
            raise SealError("a data key does not open under this key-encryption key") from None


def decode_kek(value: str, where: str) -> bytes:
    try:
        kek = base64.b64decode(value.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError(f"{where} is not base64") from None
    if len(kek) != KEY_BYTES:
        raise ConfigError(f"{where} must hold {KEY_BYTES} bytes (base64 of 32 random bytes)")
    return kek


def load_kek(settings: Settings) -> bytes:
    """The configured KEK; generated into DATA_DIR/kek only outside production."""
    privacy = settings.privacy
    if privacy.kek is not None:
        return decode_kek(privacy.kek.get_secret_value(), "AFTERDARK_PRIVACY__KEK")
    path = privacy.kek_file
    if path is None:
        if settings.environment == "production":
            raise ConfigError(
                "Set AFTERDARK_PRIVACY__KEK_FILE (or AFTERDARK_PRIVACY__KEK) in production: "
                "the key that protects every user's data key must not sit beside the database."
            )
        path = Path(settings.data_dir) / "kek"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(base64.b64encode(os.urandom(KEY_BYTES)).decode() + "\n")
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read the key-encryption key at {path}: {exc.strerror}") from None
    return decode_kek(text, str(path))


def create_key_provider(settings: Settings) -> KeyProvider:
    """The configured provider: 'local' or a plug-in's name."""
    name = settings.privacy.key_provider
    if name == "local":
        return LocalKeyProvider(load_kek(settings))
    from importlib.metadata import entry_points

    for entry in entry_points(group="afterdark.key_providers"):
        if entry.name == name:
            factory = entry.load()
            provider: KeyProvider = factory(settings)
            return provider
    raise ConfigError(f"AFTERDARK_PRIVACY__KEY_PROVIDER: no key provider named {name!r}")
