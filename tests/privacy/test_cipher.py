from __future__ import annotations

import base64
from pathlib import Path

import pytest

from afterdark.config import ConfigError, Settings
from afterdark.privacy.cipher import Binding, SealError, key_version, new_key, open_sealed, seal
from afterdark.privacy.providers import LocalKeyProvider, load_kek

HERE = Binding(user_id=7, table="messages", row="41", column="content")


def test_seal_round_trip_and_fresh_nonces() -> None:
    key = new_key()
    one = seal(key, 3, b"a quiet evening", HERE)
    two = seal(key, 3, b"a quiet evening", HERE)
    assert one != two  # random nonce each time
    assert b"quiet" not in one
    assert key_version(one) == 3
    assert open_sealed(key, one, HERE) == b"a quiet evening"


@pytest.mark.parametrize(
    "elsewhere",
    [
        Binding(8, "messages", "41", "content"),  # another user
        Binding(7, "personas", "41", "content"),  # another table
        Binding(7, "messages", "42", "content"),  # another row
        Binding(7, "messages", "41", "title"),  # another column
    ],
)
def test_a_value_moved_anywhere_else_does_not_open(elsewhere: Binding) -> None:
    key = new_key()
    blob = seal(key, 1, b"secret", HERE)
    with pytest.raises(SealError):
        open_sealed(key, blob, elsewhere)


def test_tampering_wrong_key_and_version_swap_fail() -> None:
    key = new_key()
    blob = bytearray(seal(key, 1, b"secret", HERE))
    blob[-1] ^= 1
    with pytest.raises(SealError):
        open_sealed(key, bytes(blob), HERE)
    with pytest.raises(SealError):
        open_sealed(new_key(), seal(key, 1, b"secret", HERE), HERE)
    relabelled = bytearray(seal(key, 1, b"secret", HERE))
    relabelled[6] = 2  # claims key version 2: the version is bound too
    with pytest.raises(SealError):
        open_sealed(key, bytes(relabelled), HERE)
    with pytest.raises(SealError):
        key_version(b"plain text")


def test_local_provider_wraps_with_context() -> None:
    provider = LocalKeyProvider(b"k" * 32)
    data_key = new_key()
    wrapped = provider.wrap(data_key, b"user 1 v1")
    assert data_key not in wrapped
    assert provider.unwrap(wrapped, b"user 1 v1") == data_key
    with pytest.raises(SealError):
        provider.unwrap(wrapped, b"user 2 v1")
    with pytest.raises(SealError):
        LocalKeyProvider(b"x" * 32).unwrap(wrapped, b"user 1 v1")
    assert provider.key_id != LocalKeyProvider(b"x" * 32).key_id
    assert "k" * 8 not in provider.key_id


def test_kek_from_environment_file_or_generated(tmp_path: Path) -> None:
    raw = base64.b64encode(bytes(range(32))).decode()
    assert load_kek(Settings(data_dir=tmp_path, privacy={"kek": raw})) == bytes(range(32))
    keyfile = tmp_path / "kek.b64"
    keyfile.write_text(raw + "\n")
    assert load_kek(Settings(data_dir=tmp_path, privacy={"kek_file": keyfile})) == bytes(range(32))
    generated = load_kek(Settings(data_dir=tmp_path / "dev"))
    assert len(generated) == 32
    assert (tmp_path / "dev" / "kek").stat().st_mode & 0o777 == 0o600
    assert load_kek(Settings(data_dir=tmp_path / "dev")) == generated  # stable
    with pytest.raises(ConfigError, match="32 bytes"):
        load_kek(Settings(data_dir=tmp_path, privacy={"kek": base64.b64encode(b"short").decode()}))
    with pytest.raises(ConfigError, match="not base64"):
        load_kek(Settings(data_dir=tmp_path, privacy={"kek": "***"}))
    production = Settings(
        data_dir=tmp_path / "prod", environment="production", server={"public_url": "https://x.y"}
    )
    with pytest.raises(ConfigError, match="KEK_FILE"):
        load_kek(production)
