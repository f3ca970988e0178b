"""Signed-in browsers of the web UI: a user's API token is exchanged once for a random
session cookie (the database keeps its SHA-256), each session carries the form token its
POSTs must echo (CSRF), and a forge OAuth sign-in keeps its state and PKCE verifier here
between the redirect to the forge and the callback."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Final

from pydantic import SecretStr

from slipway import store
from slipway.bootstrap import App
from slipway.domain.actors import Actor
from slipway.domain.errors import Unauthenticated
from slipway.domain.model import ForgeKind
from slipway.domain.text import t
from slipway.service.users import authenticate

SESSION_LIFETIME: Final = timedelta(hours=12)
# The cookie the web UI sets and the API also accepts, and the header a non-GET API request
# signed in by that cookie must carry the session's CSRF token in.
COOKIE_NAME: Final = "slipway_session"
CSRF_HEADER: Final = "X-CSRF-Token"


@dataclass(frozen=True)
class SignedIn:
    """A new session: `cookie` goes into the browser's cookie and nowhere else."""

    cookie: SecretStr
    csrf_token: str
    actor: Actor


@dataclass(frozen=True)
class WebSessionView:
    """Who a cookie signs in, the token their forms carry, and the forge sign-in under way."""

    actor: Actor
    csrf_token: str
    oauth_forge: ForgeKind | None = None
    oauth_state: str | None = None
    oauth_verifier: str | None = None

    def __repr__(self) -> str:
        return f"WebSessionView(actor={self.actor!r})"


def _hash(cookie: str) -> str:
    return hashlib.sha256(cookie.encode()).hexdigest()


def sign_in(app: App, token: str | SecretStr) -> SignedIn:
    """A session for the holder of API `token`; `Unauthenticated` when no user holds it."""
    actor = authenticate(app, token)
    assert actor.user_id is not None  # a token always belongs to a user
    cookie = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    with app.session() as session:
        store.add_web_session(
            session,
            session_hash=_hash(cookie),
            user_id=actor.user_id,
            csrf_token=csrf,
            expires_at=datetime.now(UTC) + SESSION_LIFETIME,
        )
    return SignedIn(SecretStr(cookie), csrf, actor)


def session_of(app: App, cookie: str | None) -> WebSessionView:
    """The live session a cookie holds; `Unauthenticated` when none or expired."""
    if not cookie:
        raise Unauthenticated(t("not signed in"))
    with app.session() as session:
        found = store.web_session(session, session_hash=_hash(cookie))
        if found is None:
            raise Unauthenticated(t("the session has ended; sign in again"))
        row, user = found
        forge = ForgeKind(row.oauth_forge) if row.oauth_forge else None
        return WebSessionView(
            Actor(user_id=user.id, name=user.name, is_admin=user.is_admin),
            row.csrf_token,
            forge,
            row.oauth_state,
            row.oauth_verifier,
        )


def csrf_matches(view: WebSessionView, token: str | None) -> bool:
    """Whether a request carried this session's form token (compared in constant time)."""
    return bool(token) and secrets.compare_digest(view.csrf_token.encode(), (token or "").encode())


def keep_oauth(app: App, cookie: str, kind: ForgeKind, *, state: str, verifier: str) -> None:
    """Remembers the forge sign-in this session started, for its callback."""
    with app.session() as session:
        store.set_web_session_oauth(
            session, session_hash=_hash(cookie), forge=kind.value, state=state, verifier=verifier
        )


def forget_oauth(app: App, cookie: str) -> None:
    """A callback uses the kept state once: whatever its outcome, it is forgotten."""
    with app.session() as session:
        store.set_web_session_oauth(
            session, session_hash=_hash(cookie), forge=None, state=None, verifier=None
        )


def sign_out(app: App, cookie: str | None) -> None:
    """Ends the session (a missing or unknown cookie: nothing to end)."""
    if not cookie:
        return
    with app.session() as session:
        store.delete_web_session(session, session_hash=_hash(cookie))
