"""/api/v1/connections: the requesting user's forge accounts. A token goes in once, is
checked against the forge, stored encrypted, and never comes back out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from slipway import service
from slipway.domain.model import ForgeKind

from ._context import ActorDep, ContextDep
from .schemas import ConnectionCreate, ConnectionOut

router = APIRouter(prefix="/connections", tags=["connections"])


@router.get("", response_model=list[ConnectionOut])
def list_connections(ctx: ContextDep, actor: ActorDep) -> list[ConnectionOut]:
    """Your connections (an admin's: everyone's): forge, server, account, scopes."""
    return [ConnectionOut.model_validate(c) for c in service.list_connections(ctx.app, actor=actor)]


@router.post("", status_code=status.HTTP_201_CREATED, response_model=ConnectionOut)
async def connect_forge(body: ConnectionCreate, ctx: ContextDep, actor: ActorDep) -> ConnectionOut:
    """Checks the token against the forge (its account and scopes) and stores it as yours;
    projects you create on that forge then act as this account."""
    view = await service.connect_forge(ctx.app, body.forge, body.token, url=body.url, actor=actor)
    return ConnectionOut.model_validate(view)


@router.delete("/{forge}", response_model=ConnectionOut)
def disconnect_forge(
    forge: ForgeKind,
    ctx: ContextDep,
    actor: ActorDep,
    account: Annotated[str | None, Query(description="empty: the newest at that server")] = None,
    url: Annotated[str | None, Query(description="empty: the installation's default")] = None,
) -> ConnectionOut:
    """Removes the connection and its stored token."""
    view = service.disconnect_forge(ctx.app, forge, url=url, account=account, actor=actor)
    return ConnectionOut.model_validate(view)
