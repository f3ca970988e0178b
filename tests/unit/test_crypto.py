"""Token encryption keys: where they come from, how the key file is created, and that neither
a key nor a token ever shows up in a repr or an error."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from pydantic import SecretStr

from slipway.domain.errors import InvalidInput
from slipway.store.crypto import SecretKeyError, TokenCipher, load_or_create_key

TOKEN = SecretStr("glpat-SuperSecretToken-123")


def test_a_key_file_is_created_once_private_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    first = load_or_create_key(data_dir, None)
    key_file = data_dir / "secret.key"

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    ciphertext = first.encrypt(TOKEN)
    again = load_or_create_key(data_dir, None)
    assert again.decrypt(ciphertext).get_secret_value() == TOKEN.get_secret_value()
    assert [p.name for p in data_dir.iterdir()] == ["secret.key"]


def test_the_key_file_is_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    previous = os.umask(0)
    try:
        load_or_create_key(tmp_path, None)
    finally:
        os.umask(previous)
    assert stat.S_IMODE((tmp_path / "secret.key").stat().st_mode) == 0o600


def test_concurrent_first_starts_share_one_key(tmp_path: Path) -> None:
    barrier = threading.Barrier(8)
    ciphers: list[TokenCipher] = []

    def start() -> None:
        barrier.wait()
        ciphers.append(load_or_create_key(tmp_path, None))

    threads = [threading.Thread(target=start) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)

    ciphertext = ciphers[0].encrypt(TOKEN)
    assert len(ciphers) == 8
    assert all(c.decrypt(ciphertext) == TOKEN for c in ciphers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret.key"]


def test_a_configured_key_wins_over_the_key_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    cipher = load_or_create_key(tmp_path, SecretStr(key))

    assert not (tmp_path / "secret.key").exists()
    assert cipher.source == "SLIPWAY_SECRET_KEY"
    assert Fernet(key).decrypt(cipher.encrypt(TOKEN)).decode() == TOKEN.get_secret_value()


@pytest.mark.parametrize("bad", ["too-short", "x" * 44, " ", "ключ" * 11])
def test_a_malformed_configured_key_names_the_setting_not_the_value(
    tmp_path: Path, bad: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        load_or_create_key(tmp_path, SecretStr(bad))
    assert caught.value.field == "SLIPWAY_SECRET_KEY"
    assert "Fernet key" in str(caught.value)
    if bad.strip():
        assert bad not in str(caught.value)


def test_a_damaged_key_file_is_reported_with_its_path(tmp_path: Path) -> None:
    (tmp_path / "secret.key").write_text("garbage-not-a-key\n")
    with pytest.raises(SecretKeyError) as caught:
        load_or_create_key(tmp_path, None)
    assert str(tmp_path / "secret.key") in str(caught.value)
    assert "garbage-not-a-key" not in str(caught.value)


def test_the_wrong_key_says_the_key_changed(tmp_path: Path) -> None:
    ciphertext = load_or_create_key(tmp_path / "one", None).encrypt(TOKEN)
    with pytest.raises(SecretKeyError) as caught:
        load_or_create_key(tmp_path / "two", None).decrypt(ciphertext)
    message = str(caught.value)
    assert "key changed" in message
    assert "SLIPWAY_SECRET_KEY" in message
    assert TOKEN.get_secret_value() not in message


def test_ciphertext_does_not_contain_the_token_and_differs_each_time(tmp_path: Path) -> None:
    cipher = load_or_create_key(tmp_path, None)
    one, two = cipher.encrypt(TOKEN), cipher.encrypt(TOKEN)
    assert one != two
    assert TOKEN.get_secret_value().encode() not in one


def test_reprs_never_show_the_key_or_the_token(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()
    cipher = TokenCipher(SecretStr(key))
    decrypted = cipher.decrypt(cipher.encrypt(TOKEN))

    for text in (repr(cipher), str(cipher), f"{cipher}", repr(decrypted), str(decrypted)):
        assert key not in text
        assert TOKEN.get_secret_value() not in text
    with pytest.raises(TypeError, match="cannot be pickled"):
        import pickle

        pickle.dumps(cipher)
