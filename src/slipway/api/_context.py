"""What every route needs: the App, this process's worker (if it runs one) and who is asking.

Every route but the probes depends on `current_actor`: a request without a bearer token that
a user holds is refused before any use case runs."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from slipway import service
from slipway.domain.actors import Actor


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
    ctx: Annotated[Context, Depends(context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The user holding the bearer token; `Unauthenticated` (401) otherwise."""
    return service.authenticate(ctx.app, credentials.credentials if credentials else None)


ContextDep = Annotated[Context, Depends(context)]
ActorDep = Annotated[Actor, Depends(current_actor)]
