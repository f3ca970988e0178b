"""Users of the API and their tokens. A token is shown once, when its user is created; the
database keeps only its SHA-256 hash, so neither a copy of the database nor a log holds one."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr
from sqlalchemy.orm import Session

from slipway import store
from slipway.bootstrap import App
from slipway.domain.actors import Actor
from slipway.domain.errors import Conflict, InvalidInput, NotFound, Unauthenticated
from slipway.domain.text import t
from slipway.store.models import User

TOKEN_PREFIX = "slw_"  # noqa: S105 - marks a Slipway token, not a token
DISPLAY_PREFIX_LENGTH = 8
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,62}")
NAME_RULE = t("1 to 63 letters, digits, '.', '_', '@' or '-', starting with a letter or digit")


@dataclass(frozen=True)
class UserView:
    name: str
    admin: bool
    created_at: datetime


@dataclass(frozen=True)
class CreatedUser:
    """A new user and their token: the only time the token is known. `SecretStr` keeps it out
    of any repr or log; `token.get_secret_value()` shows it."""

    user: UserView
    token: SecretStr


def token_hash(token: str) -> str:
    """What the database keeps of a token: its SHA-256, hex."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(app: App, name: str, *, admin: bool) -> CreatedUser:
    """A new user with a new API token; `InvalidInput` for a bad name, `Conflict` for a
    taken one."""
    if not _NAME.fullmatch(name):
        raise InvalidInput("name", NAME_RULE)
    with app.session() as session:
        user = store.create_user(session, name=name, is_admin=admin)
        return CreatedUser(_view(user), _new_token(session, user.id))


def new_token(app: App, name: str) -> CreatedUser:
    """Replaces the user's API tokens with a new one, shown once: every old token and every
    web session signed in with one stop working at once (a token that leaked is revoked by
    issuing the next)."""
    with app.session() as session:
        user = _require_user(session, name)
        store.revoke_tokens(session, user_id=user.id)
        return CreatedUser(_view(user), _new_token(session, user.id))


def delete_user(app: App, name: str) -> UserView:
    """Deletes the user with their tokens, web sessions and forge connections. `Conflict`
    while they still own projects: those act as their forge connection, so they are deleted
    (or left to an admin) first."""
    with app.session() as session:
        user = _require_user(session, name)
        owned = store.projects_of(session, user_id=user.id)
        if owned:
            raise Conflict(
                t(
                    "user {name} still owns {count} project(s): {projects}",
                    name=name,
                    count=len(owned),
                    projects=", ".join(owned),
                ),
                system="database",
                hint=t("delete them first with `slipway project delete NAME`"),
            )
        view = _view(user)
        store.delete_user(session, user_id=user.id)
    return view


def _require_user(session: Session, name: str) -> User:
    user = store.get_user(session, name=name)
    if user is None:
        raise NotFound(
            t("no user named '{name}'", name=name),
            system="database",
            hint=t("see them with `slipway user list`"),
        )
    return user


def _new_token(session: Session, user_id: int) -> SecretStr:
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    store.add_token(
        session, user_id=user_id, token_hash=token_hash(token), prefix=token[:DISPLAY_PREFIX_LENGTH]
    )
    return SecretStr(token)


def list_users(app: App) -> list[UserView]:
    """Every user, by name (never a token)."""
    with app.session() as session:
        return [_view(u) for u in store.list_users(session)]


def authenticate(app: App, token: str | SecretStr | None) -> Actor:
    """The actor holding `token`; `Unauthenticated` when it is missing or no user holds it.
    Looked up by hash, so no comparison of clear tokens happens anywhere."""
    clear = token.get_secret_value() if isinstance(token, SecretStr) else token
    if not clear:
        raise Unauthenticated(t("missing API token"))
    digest = token_hash(clear)
    with app.session() as session:
        user = store.user_by_token_hash(session, token_hash=digest)
        if user is None:
            raise Unauthenticated(t("unknown API token"))
        store.touch_token(session, token_hash=digest)
        return Actor(user_id=user.id, name=user.name, is_admin=user.is_admin)


def _view(user: User) -> UserView:
    return UserView(name=user.name, admin=user.is_admin, created_at=user.created_at)
