"""Which projects and forge connections an actor may see: their own, or all for admins and
the operator. Another user's answers exactly as a missing one does, so a name never tells a
user that someone else's project exists."""

from __future__ import annotations

from sqlalchemy.orm import Session

from slipway import store
from slipway.domain.actors import Actor
from slipway.store.models import ForgeConnection, Project


def visible_project(session: Session, name: str, actor: Actor) -> Project:
    """The project named `name` if `actor` may see it; else the `NotFound` of a missing one."""
    project = store.get_project(session, name=name)
    if project is None or not actor.may_see(project.user_id):
        raise store.project_not_found(name)
    return project


def visible_connections(session: Session, actor: Actor) -> list[ForgeConnection]:
    """The stored forge connections `actor` may see, by forge, server and account."""
    return [c for c in store.list_forge_connections(session) if actor.may_see(c.user_id)]
