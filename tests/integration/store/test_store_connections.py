"""Forge connections: the token is stored encrypted, read back only with the right key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from pydantic import SecretStr

from slipway.domain.model import ForgeKind
from slipway.store import (
    SecretKeyError,
    SessionFactory,
    TokenCipher,
    get_forge_connection,
    list_forge_connections,
    load_forge_token,
    load_or_create_key,
    save_forge_connection,
    unit_of_work,
)

CLEAR = "ghp_TheClearTokenMustNeverBeStored0123456789"


@pytest.fixture
def cipher(tmp_path: Path) -> TokenCipher:
    return load_or_create_key(tmp_path / "data", None)


def _save(factory: SessionFactory, cipher: TokenCipher, token: str, **extra: Any) -> int:
    with unit_of_work(factory) as session:
        connection = save_forge_connection(
            session,
            provider="github",
            server_url="https://api.github.example/",
            account_name="acme-bot",
            token=SecretStr(token),
            cipher=cipher,
            scopes=["repo", "workflow"],
            **extra,
        )
        return connection.id


def test_the_token_column_never_holds_the_clear_token(
    factory: SessionFactory, cipher: TokenCipher
) -> None:
    connection_id = _save(factory, cipher, CLEAR)

    with unit_of_work(factory) as session:
        raw = session.execute(sa.text("SELECT * FROM forge_connections")).mappings().one()
        stored = bytes(raw["encrypted_token"])
        assert CLEAR.encode() not in stored
        assert all(CLEAR not in str(value) for value in raw.values())
        assert (
            load_forge_token(session, connection_id=connection_id, cipher=cipher).get_secret_value()
            == CLEAR
        )


def test_saving_again_replaces_the_token_in_the_same_row(
    factory: SessionFactory, cipher: TokenCipher
) -> None:
    first = _save(factory, cipher, "old-token")
    second = _save(factory, cipher, "new-token", token_kind="oauth")
    assert first == second
    with unit_of_work(factory) as session:
        (connection,) = list_forge_connections(session)
        assert (connection.provider, connection.server_url, connection.token_kind) == (
            ForgeKind.GITHUB,
            "https://api.github.example",
            "oauth",
        )
        assert connection.scopes == ["repo", "workflow"]
        found = get_forge_connection(
            session, provider=ForgeKind.GITHUB, server_url="https://api.github.example"
        )
        assert found is not None and found.id == first
        token = load_forge_token(session, connection_id=first, cipher=cipher)
        assert token.get_secret_value() == "new-token"


def test_a_changed_key_is_reported_as_such_without_the_token(
    factory: SessionFactory, cipher: TokenCipher
) -> None:
    connection_id = _save(factory, cipher, CLEAR)
    other = TokenCipher(SecretStr(Fernet.generate_key().decode()))

    with unit_of_work(factory) as session, pytest.raises(SecretKeyError) as caught:
        load_forge_token(session, connection_id=connection_id, cipher=other)
    assert "key changed" in str(caught.value)
    assert "slipway forge connect" in str(caught.value)
    assert CLEAR not in str(caught.value)


def test_the_repr_of_a_connection_shows_no_token(
    factory: SessionFactory, cipher: TokenCipher
) -> None:
    _save(factory, cipher, CLEAR)
    with unit_of_work(factory) as session:
        (connection,) = list_forge_connections(session)
        text = repr(connection)
    assert "acme-bot" in text
    assert CLEAR not in text
    assert "encrypted_token" not in text
