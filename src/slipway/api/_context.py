"""What every route needs: the App, this process's worker (if it runs one) and who is asking.

Every route but the probes depends on `current_actor`: a request without a bearer token that
a user holds, or the web UI's session cookie, is refused before any use case runs. A request
authenticated by the cookie alone that changes anything must also carry the session's CSRF
token in `X-CSRF-Token` (403 otherwise): the browser sends the cookie on its own, the header
only our pages' script can set."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Final

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from slipway import service
from slipway.domain.actors import Actor
from slipway.domain.errors import Forbidden
from slipway.domain.text import t
from slipway.service import web_sessions

SESSION_COOKIE: Final = web_sessions.COOKIE_NAME
CSRF_HEADER: Final = web_sessions.CSRF_HEADER
_SAFE_METHODS: Final = frozenset({"GET", "HEAD", "OPTIONS"})


@dataclass(frozen=True)
class Context:
    app: service.App
    # `serve`'s embedded worker: delete runs start in it; creations and repairs are queued
    # for whichever worker sharing the database takes them first (this one included).
    worker: service.Worker


_bearer = HTTPBearer(
    auto_error=False,
    scheme_name="token",
    description="an API token from `slipway user create`",
)


def context(request: Request) -> Context:
    found = request.app.state.slipway
    assert isinstance(found, Context)
    return found


def current_actor(
    request: Request,
    ctx: Annotated[Context, Depends(context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The user holding the bearer token, else the web session's user (with the CSRF
    header on a non-GET request: 403 without); `Unauthenticated` (401) otherwise."""
    cookie = request.cookies.get(SESSION_COOKIE)
    if credentials is not None or not cookie:
        return service.authenticate(ctx.app, credentials.credentials if credentials else None)
    signed_in = web_sessions.session_of(ctx.app, cookie)
    if request.method not in _SAFE_METHODS and not web_sessions.csrf_matches(
        signed_in, request.headers.get(CSRF_HEADER)
    ):
        raise Forbidden(
            t("a request signed in by cookie needs the {header} header", header=CSRF_HEADER),
            hint=t("send the session's CSRF token in it, as Slipway's pages do"),
        )
    return signed_in.actor


ContextDep = Annotated[Context, Depends(context)]
ActorDep = Annotated[Actor, Depends(current_actor)]
