"""Web UI sessions, by the SHA-256 of their cookie: a copy of the database holds no cookie
that would sign anyone in."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from slipway.store._types import utcnow
from slipway.store.models import User, WebSession


def add_web_session(
    session: Session, *, session_hash: str, user_id: int, csrf_token: str, expires_at: datetime
) -> WebSession:
    """Records a new signed-in browser."""
    row = WebSession(id=session_hash, user_id=user_id, csrf_token=csrf_token, expires_at=expires_at)
    session.add(row)
    session.flush()
    return row


def web_session(session: Session, *, session_hash: str) -> tuple[WebSession, User] | None:
    """The unexpired session with this hash and its user, or None."""
    query = (
        sa.select(WebSession, User)
        .join(User, User.id == WebSession.user_id)
        .where(WebSession.id == session_hash, WebSession.expires_at > utcnow())
    )
    found = session.execute(query).first()
    return None if found is None else (found[0], found[1])


def set_web_session_oauth(
    session: Session,
    *,
    session_hash: str,
    forge: str | None,
    state: str | None,
    verifier: str | None,
) -> None:
    """Keeps (or, with Nones, forgets) the forge sign-in this session started."""
    session.execute(
        sa.update(WebSession)
        .where(WebSession.id == session_hash)
        .values(oauth_forge=forge, oauth_state=state, oauth_verifier=verifier)
    )


def delete_web_session(session: Session, *, session_hash: str) -> None:
    """Signs the browser out; expired sessions go with it."""
    session.execute(
        sa.delete(WebSession).where(
            sa.or_(WebSession.id == session_hash, WebSession.expires_at <= utcnow())
        )
    )
