"""Forge connections: which forge accounts Slipway may act as, with their tokens encrypted.

A token leaves this module only as a SecretStr from `load_forge_token`, called inside the
step that uses it (never passed through a workflow's recorded arguments); an OAuth
connection's refresh token only from `load_forge_refresh`, to whoever refreshes it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.domain.errors import InvalidInput, NotFound
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.store._checks import as_enum, violation
from slipway.store.crypto import TokenCipher
from slipway.store.models import TOKEN_KINDS, ForgeConnection


def save_forge_connection(
    session: Session,
    *,
    provider: ForgeKind | str,
    server_url: str,
    account_name: str,
    token: SecretStr,
    cipher: TokenCipher,
    token_kind: str = "pat",  # noqa: S107 - a kind of token, not a token
    scopes: Sequence[str] = (),
    expires_at: datetime | None = None,
    user_id: int | None = None,
    refresh_token: SecretStr | None = None,
) -> ForgeConnection:
    """Stores (or replaces) the token for one account on one forge server; idempotent. A
    token without `refresh_token` (a PAT) drops the refresh token a replaced one had."""
    if token_kind not in TOKEN_KINDS:
        raise InvalidInput(
            "token_kind",
            t(
                "'{token_kind}' is not one of: {token_kinds}",
                token_kind=token_kind,
                token_kinds=", ".join(TOKEN_KINDS),
            ),
        )
    kind = as_enum(ForgeKind, provider, field="provider")
    server_url = server_url.rstrip("/")
    values = {
        "encrypted_token": cipher.encrypt(token),
        "encrypted_refresh_token": cipher.encrypt(refresh_token) if refresh_token else None,
        "token_kind": token_kind,
        "scopes": list(scopes),
        "expires_at": expires_at,
        "user_id": user_id,
    }
    connection = get_forge_connection(
        session, provider=kind, server_url=server_url, account_name=account_name
    )
    if connection is None:
        try:
            with session.begin_nested():
                connection = ForgeConnection(
                    provider=kind, server_url=server_url, account_name=account_name, **values
                )
                session.add(connection)
            return connection
        except IntegrityError as exc:
            if violation(exc) != "unique":
                raise
            connection = get_forge_connection(
                session, provider=kind, server_url=server_url, account_name=account_name
            )
            if connection is None:
                raise
    for column, value in values.items():
        setattr(connection, column, value)
    session.flush()
    return connection


def get_forge_connection(
    session: Session,
    *,
    provider: ForgeKind | str,
    server_url: str,
    account_name: str | None = None,
) -> ForgeConnection | None:
    """The connection for that account, or (no account given) the newest one on that server."""
    query = sa.select(ForgeConnection).where(
        ForgeConnection.provider == as_enum(ForgeKind, provider, field="provider"),
        ForgeConnection.server_url == server_url.rstrip("/"),
    )
    if account_name is not None:
        query = query.where(ForgeConnection.account_name == account_name)
    query = query.order_by(ForgeConnection.updated_at.desc(), ForgeConnection.id.desc())
    return session.scalars(query.limit(1)).first()


def list_forge_connections(session: Session) -> list[ForgeConnection]:
    return list(
        session.scalars(
            sa.select(ForgeConnection).order_by(
                ForgeConnection.provider, ForgeConnection.server_url, ForgeConnection.account_name
            )
        )
    )


def load_forge_token(session: Session, *, connection_id: int, cipher: TokenCipher) -> SecretStr:
    """The clear token of a stored connection. Raises NotFound, or SecretKeyError when the key
    changed since the token was saved."""
    return load_forge_credentials(session, connection_id=connection_id, cipher=cipher).token


@dataclass(frozen=True)
class ForgeCredentials:
    """What a client needs to act as a stored connection; the account spares a read of it."""

    url: str
    token: SecretStr
    login: str


def load_forge_credentials(
    session: Session, *, connection_id: int, cipher: TokenCipher
) -> ForgeCredentials:
    """The server URL, clear token and account of a stored connection (see `load_forge_token`)."""
    connection = _connection(session, connection_id)
    return ForgeCredentials(
        connection.server_url,
        cipher.decrypt(connection.encrypted_token),
        connection.account_name,
    )


@dataclass(frozen=True)
class ForgeRefresh:
    """What refreshing a stored OAuth connection needs: where, and the refresh token."""

    provider: ForgeKind
    url: str
    refresh_token: SecretStr
    scopes: tuple[str, ...]
    expires_at: datetime | None


def load_forge_refresh(
    session: Session, *, connection_id: int, cipher: TokenCipher
) -> ForgeRefresh | None:
    """The clear refresh token of a stored connection, or None when it has none (a PAT, a
    GitHub OAuth token). Raises NotFound as `load_forge_credentials` does."""
    connection = _connection(session, connection_id)
    if connection.encrypted_refresh_token is None:
        return None
    return ForgeRefresh(
        connection.provider,
        connection.server_url,
        cipher.decrypt(connection.encrypted_refresh_token),
        tuple(connection.scopes),
        connection.expires_at,
    )


def token_expiry(session: Session, *, connection_id: int) -> tuple[datetime | None, bool]:
    """When a stored connection's token expires (None: never) and whether it can be
    refreshed, read without decrypting anything."""
    connection = _connection(session, connection_id)
    return connection.expires_at, connection.encrypted_refresh_token is not None


def update_forge_tokens(
    session: Session,
    *,
    connection_id: int,
    token: SecretStr,
    refresh_token: SecretStr | None,
    expires_at: datetime | None,
    cipher: TokenCipher,
    scopes: Sequence[str] | None = None,
) -> None:
    """Stores a refreshed token pair (both encrypted) and its expiry; scopes when given."""
    connection = _connection(session, connection_id)
    connection.encrypted_token = cipher.encrypt(token)
    connection.encrypted_refresh_token = cipher.encrypt(refresh_token) if refresh_token else None
    connection.expires_at = expires_at
    if scopes is not None:
        connection.scopes = list(scopes)
    session.flush()


def _connection(session: Session, connection_id: int) -> ForgeConnection:
    connection = session.get(ForgeConnection, connection_id)
    if connection is None:
        raise NotFound(
            t("no forge connection with id {connection_id}", connection_id=connection_id),
            system="database",
            hint=t("it was removed: connect one with `slipway forge connect`"),
        )
    return connection


def delete_forge_connection(session: Session, *, connection_id: int) -> bool:
    connection = session.get(ForgeConnection, connection_id)
    if connection is None:
        return False
    session.delete(connection)
    session.flush()
    return True
