"""Users and their API tokens. A token reaches this module only as its SHA-256 hex: the
clear token is never stored, so a copy of the database lets nobody call the API."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from slipway.domain.errors import Conflict
from slipway.domain.text import t
from slipway.store._checks import violation
from slipway.store._types import utcnow
from slipway.store.models import ApiToken, ForgeConnection, Project, User, WebSession


def create_user(session: Session, *, name: str, is_admin: bool = False) -> User:
    """A new user; `Conflict` when the name is taken (also by a concurrent request)."""
    user = User(name=name, is_admin=is_admin)
    try:
        with session.begin_nested():
            session.add(user)
            session.flush()
    except IntegrityError as exc:
        if violation(exc) != "unique":
            raise
        raise Conflict(
            t("a user named '{name}' already exists", name=name),
            system="database",
            hint=t("choose another name; see them with `slipway user list`"),
        ) from None
    return user


def list_users(session: Session) -> list[User]:
    """Every user, by name."""
    return list(session.scalars(sa.select(User).order_by(User.name)))


def get_user(session: Session, *, name: str) -> User | None:
    return session.scalars(sa.select(User).where(User.name == name)).first()


def projects_of(session: Session, *, user_id: int) -> list[str]:
    """The names of the projects `user_id` created, by name."""
    query = sa.select(Project.name).where(Project.user_id == user_id).order_by(Project.name)
    return list(session.scalars(query))


def revoke_tokens(session: Session, *, user_id: int) -> None:
    """Every API token of `user_id` and every web session signed in with one: gone at once."""
    session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user_id))
    session.execute(sa.delete(WebSession).where(WebSession.user_id == user_id))


def delete_user(session: Session, *, user_id: int) -> None:
    """The user with their tokens, web sessions and forge connections (encrypted tokens
    included); their projects must be gone first (`projects_of`)."""
    revoke_tokens(session, user_id=user_id)
    session.execute(sa.delete(ForgeConnection).where(ForgeConnection.user_id == user_id))
    session.execute(sa.delete(User).where(User.id == user_id))


def add_token(session: Session, *, user_id: int, token_hash: str, prefix: str) -> ApiToken:
    """Records a token of `user_id` by its hash and display prefix."""
    token = ApiToken(user_id=user_id, token_hash=token_hash, prefix=prefix)
    session.add(token)
    session.flush()
    return token


def user_by_token_hash(session: Session, *, token_hash: str) -> User | None:
    """The user holding the token with this hash, or None."""
    query = sa.select(User).join(ApiToken, ApiToken.user_id == User.id)
    return session.scalars(query.where(ApiToken.token_hash == token_hash)).first()


def touch_token(
    session: Session, *, token_hash: str, at: datetime | None = None, resolution: float = 60.0
) -> None:
    """Records that the token was just used (`last_used_at`), at most once per `resolution`
    seconds: a busy client does not turn every read into a write."""
    now = at or utcnow()
    stale = sa.or_(
        ApiToken.last_used_at.is_(None),
        ApiToken.last_used_at < now - timedelta(seconds=resolution),
    )
    session.execute(
        sa.update(ApiToken).where(ApiToken.token_hash == token_hash, stale).values(last_used_at=now)
    )
