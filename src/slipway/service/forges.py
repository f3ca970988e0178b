"""Forge connections: validating a token and storing it encrypted, and checking the stored one
for `doctor`. A token goes in as a `SecretStr` and never comes back out of a use case."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from pydantic import SecretStr

from slipway import store
from slipway.bootstrap import App
from slipway.domain.actors import OPERATOR, Actor
from slipway.domain.errors import (
    Conflict,
    ForgeNotConnected,
    InvalidInput,
    NotFound,
    TokenRejected,
)
from slipway.domain.model import ForgeKind
from slipway.domain.text import Text, t
from slipway.forges import Account, Forge, TokenKind, build_forge
from slipway.service.views import ConnectionView
from slipway.service.visibility import visible_connections
from slipway.store.models import ForgeConnection

# Every forge's tokens are printable ASCII without spaces (an HTTP header cannot carry more).
_TOKEN = re.compile(r"[\x21-\x7e]+")
_PRINTABLE_RULE = t("must be printable ASCII without spaces, as forges issue tokens")
_STORED_KIND = {
    TokenKind.PERSONAL: "pat",
    TokenKind.FINE_GRAINED: "pat",
    TokenKind.UNKNOWN: "pat",
    TokenKind.OAUTH: "oauth",
    TokenKind.APP: "app",
}


@dataclass(frozen=True)
class ForgeIdentity:
    """Which account new work on a forge acts as: a stored connection (its id and account),
    or the configured SLIPWAY_FORGE_TOKEN (id and account unknown until the forge says)."""

    connection_id: int | None
    account: str | None


def forge_identity(app: App, kind: ForgeKind, *, actor: Actor = OPERATOR) -> ForgeIdentity:
    """The operator: the newest stored connection at the configured URL, else the configured
    token. A user (admins too): the newest of their own connections there, never another's
    nor the operator's token. `ForgeNotConnected` when there is none."""
    base_url = app.forge_url(kind)
    with app.session() as session:
        if actor.user_id is None:
            connection = store.get_forge_connection(session, provider=kind, server_url=base_url)
        else:
            connection = _newest(
                c
                for c in store.list_forge_connections(session)
                if c.user_id == actor.user_id and _at(c, kind, base_url)
            )
        if connection is not None:
            return ForgeIdentity(connection.id, connection.account_name)
    if actor.user_id is None and app.configured_token(kind) is not None:
        return ForgeIdentity(None, None)
    raise ForgeNotConnected(kind.value, base_url)


UNUSABLE_CONNECTION = t("is not a forge connection of yours")


def connection_identity(
    app: App, connection_id: int, *, actor: Actor = OPERATOR
) -> tuple[ForgeKind, ForgeIdentity]:
    """The forge and account of the stored connection `connection_id`, chosen by the request
    rather than the newest at the configured URL. Only one `actor` may act as: a user's own
    (admins too, as `forge_identity`), the operator's any. Another user's answers exactly as
    a missing one, so an id never tells that someone else's connection exists."""
    with app.session() as session:
        # An id no database column could hold is as missing as any other.
        in_range = 0 < connection_id < 2**31
        connection = session.get(ForgeConnection, connection_id) if in_range else None
        if connection is None or not _usable(connection, actor):
            raise InvalidInput(
                "connection",
                UNUSABLE_CONNECTION,
                hint=t("connect one with `slipway forge connect`, or leave it out"),
            )
        return connection.provider, ForgeIdentity(connection.id, connection.account_name)


def usable_connections(app: App, *, actor: Actor = OPERATOR) -> list[ConnectionView]:
    """The connections a new project of `actor`'s may act as (`CreateRequest.connection`
    names one by its id)."""
    with app.session() as session:
        return [_view(c) for c in store.list_forge_connections(session) if _usable(c, actor)]


def _usable(connection: ForgeConnection, actor: Actor) -> bool:
    """A user acts only as their own connections (an admin sees others' but never acts as
    them); the operator as any stored one."""
    return actor.user_id is None or connection.user_id == actor.user_id


def _at(connection: ForgeConnection, kind: ForgeKind, base_url: str) -> bool:
    return connection.provider is kind and connection.server_url == base_url.rstrip("/")


def _newest(connections: Iterable[ForgeConnection]) -> ForgeConnection | None:
    """The most recently stored, as `store.get_forge_connection` picks."""
    return max(connections, key=lambda c: (c.updated_at, c.id), default=None)


@asynccontextmanager
async def open_forge(
    app: App, kind: ForgeKind, identity: ForgeIdentity, *, step: str | None = None
) -> AsyncIterator[Forge]:
    """The forge client acting as `identity`, closed after use."""
    if identity.connection_id is not None:
        await app.refresh_if_expiring(identity.connection_id)
    # Reading and decrypting the stored token is database work: off the event loop.
    forge = await asyncio.to_thread(
        app.forge, kind, connection_id=identity.connection_id, step=step
    )
    try:
        yield forge
    finally:
        await forge.aclose()


URL_RULE = t("must be an absolute http(s) URL with a host, e.g. https://github.example.com/api/v3")


def check_forge_url(url: str | None, *, field: str = "url") -> None:
    """`InvalidInput` for a forge URL that no request could use (`not-a-url`, `ftp://x`,
    `https://`), before any network call: a typo is not a connection failure to retry."""
    if url is None:
        return
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:  # e.g. an unclosed IPv6 bracket or a bad port
        host = None
        parts = None
    if parts is None or parts.scheme not in ("http", "https") or not host:
        raise InvalidInput(field, URL_RULE)


async def connect_forge(
    app: App, kind: ForgeKind, token: SecretStr, *, url: str | None, actor: Actor = OPERATOR
) -> ConnectionView:
    """Validates the URL and the token against the forge, then stores the token encrypted
    with its account, as `actor`'s connection. Connecting an account again replaces its token
    and keeps its owner; an account another user connected is a `Conflict` for a user."""
    check_forge_url(url)
    if not token.get_secret_value().strip():
        raise InvalidInput("token", t("must not be empty"), hint=t("pipe it in: --token-stdin"))
    token = SecretStr(token.get_secret_value().strip())
    if not _TOKEN.fullmatch(token.get_secret_value()):
        # It goes into an HTTP header, which carries only printable ASCII; the value itself is
        # never quoted back.
        raise InvalidInput("token", _PRINTABLE_RULE)
    base_url = (url or app.forge_url(kind)).rstrip("/")
    forge = build_forge(kind, base_url=base_url, token=token, step="forge connect")
    try:
        account = await forge.validate_token()
    except TokenRejected as exc:
        # The token the user just gave is wrong: bad input (exit 2, HTTP 422), not an outage.
        raise InvalidInput(
            "token",
            t(
                "rejected by {label} at {url}: invalid, expired or revoked",
                label=exc.message.params["label"],
                url=exc.message.params["url"],
            )
            if isinstance(exc.message, Text) and "label" in exc.message.params
            else t(
                "{rejected}: invalid, expired or revoked",
                rejected=exc.message.removeprefix("token "),
            ),
            hint=exc.hint,
        ) from None
    finally:
        await forge.aclose()
    return store_connection(
        app, kind, base_url, account, token, scopes=account.scopes or (), actor=actor
    )


def store_connection(
    app: App,
    kind: ForgeKind,
    base_url: str,
    account: Account,
    token: SecretStr,
    *,
    scopes: tuple[str, ...],
    actor: Actor,
    refresh_token: SecretStr | None = None,
    expires_at: datetime | None = None,
) -> ConnectionView:
    """Stores a validated token (and an OAuth refresh token) encrypted, as `actor`'s
    connection to `account`; an account another user connected is a `Conflict` for a user,
    and connecting one again replaces its token and keeps its owner."""
    with app.session() as session:
        existing = store.get_forge_connection(
            session, provider=kind, server_url=base_url, account_name=account.login
        )
        if existing is not None and not actor.may_see(existing.user_id):
            raise Conflict(
                t(
                    "{forge} account {login} at {base_url} is connected by another user",
                    forge=kind.value,
                    login=account.login,
                    base_url=base_url,
                ),
                system="database",
                hint=t("connect a token of an account of your own"),
            )
        saved = store.save_forge_connection(
            session,
            provider=kind,
            server_url=base_url,
            account_name=account.login,
            token=token,
            cipher=app.cipher,
            token_kind=_STORED_KIND[account.token_kind],
            scopes=scopes,
            user_id=existing.user_id if existing is not None else actor.user_id,
            refresh_token=refresh_token,
            expires_at=expires_at,
        )
        connection_id = saved.id
    return ConnectionView(
        id=connection_id,
        forge=kind.value,
        url=base_url,
        account=account.login,
        token_kind=account.token_kind.value,
        scopes=account.scopes if account.scopes is not None else (scopes or None),
        missing_scopes=account.missing_scopes,
    )


def list_connections(app: App, *, actor: Actor = OPERATOR) -> list[ConnectionView]:
    """Every stored connection `actor` may see: forge, server, account, token kind and
    scopes (never the token)."""
    with app.session() as session:
        return [_view(c) for c in visible_connections(session, actor)]


def disconnect_forge(
    app: App,
    kind: ForgeKind,
    *,
    url: str | None = None,
    account: str | None = None,
    actor: Actor = OPERATOR,
) -> ConnectionView:
    """Deletes the stored connection (its encrypted token with it) of that account, or the
    newest at the URL, among those `actor` may see; `NotFound` if none."""
    check_forge_url(url)
    base_url = (url or app.forge_url(kind)).rstrip("/")
    with app.session() as session:
        connection = _newest(
            c
            for c in visible_connections(session, actor)
            if _at(c, kind, base_url) and (account is None or c.account_name == account)
        )
        if connection is None:
            raise NotFound(
                t(
                    "no {forge} connection for {account} at {base_url}",
                    forge=kind.value,
                    account=account,
                    base_url=base_url,
                )
                if account
                else t("no {forge} connection at {base_url}", forge=kind.value, base_url=base_url),
                system="database",
                hint=t("see the stored ones with `slipway forge list`"),
            )
        view = _view(connection)
        store.delete_forge_connection(session, connection_id=connection.id)
    return view


def _view(connection: ForgeConnection) -> ConnectionView:
    scopes = tuple(connection.scopes)
    return ConnectionView(
        id=connection.id,
        forge=connection.provider.value,
        url=connection.server_url,
        account=connection.account_name,
        token_kind=connection.token_kind,
        scopes=scopes,
        missing_scopes=(),
    )


def scope_problem(kind: ForgeKind, account: Account) -> tuple[Text, Text] | None:
    """What is wrong with the token's scopes and how to fix it, or None when it has them."""
    if not account.missing_scopes:
        return None
    missing = ", ".join(account.missing_scopes)
    return (
        t("token of {login} lacks scopes: {missing}", login=account.login, missing=missing),
        t(
            "create a token with the {missing} scope(s) and run `slipway forge connect "
            "{forge} --token-stdin`",
            missing=missing,
            forge=kind.value,
        ),
    )
